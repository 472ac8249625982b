"""Claims, duplicates and the reaper, with an injected clock: nothing here sleeps."""

from __future__ import annotations

from pathlib import Path

import pytest

from modalkit.backends.factory import Backends, open_backends
from modalkit.backends.sqlite_queue import SqliteQueue
from modalkit.lifecycle import Lifecycle
from modalkit.service import JobService, Submission
from modalkit.settings import DeploymentConfig
from modalkit.status import JobStatus
from tests.conftest import make_settings


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def parts(tmp_path: Path, clock: Clock) -> tuple[Backends, DeploymentConfig, JobService, Lifecycle]:
    deployment = make_settings(
        tmp_path, app_settings={"deployment_config": {"retries": 1}}
    ).app_settings.deployment_config
    backends = open_backends(deployment, clock=clock)
    return (
        backends,
        deployment,
        JobService(backends, deployment, clock=clock),
        Lifecycle(backends, deployment, worker_id="w1", clock=clock),
    )


def submit(service: JobService) -> str:
    job, _ = service.submit("me", Submission(payload='{"data": {"text": "x"}}', model_name="m"))
    return job.job_id


def test_a_duplicate_delivery_of_a_live_job_is_skipped(parts, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    backends, deployment, service, life = parts
    job_id = submit(service)
    first = backends.queue.receive(1, 0, 60)[0]
    backends.queue.send(first.body)  # a duplicate message, as at-least-once delivery may give
    dup = backends.queue.receive(1, 0, 60)[0]
    assert life.claim(first) is not None
    assert life.claim(dup) is None
    assert service.store.load(job_id).attempts == 1  # type: ignore[union-attr]


def test_a_redelivery_after_the_lease_lapsed_takes_the_job_over(parts, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    backends, deployment, service, life = parts
    job_id = submit(service)
    message = backends.queue.receive(1, 0, deployment.visibility_timeout)[0]
    assert life.claim(message) is not None
    clock.now += deployment.visibility_timeout  # the worker died; the message reappears
    again = backends.queue.receive(1, 0, deployment.visibility_timeout)[0]
    assert again.receive_count == 2
    taken = life.claim(again)
    assert taken is not None and taken.job.attempts == 2
    assert service.store.load(job_id).status is JobStatus.PROCESSING  # type: ignore[union-attr]


def test_a_late_worker_cannot_overwrite_a_cancel(parts) -> None:  # type: ignore[no-untyped-def]
    backends, _, service, life = parts
    job_id = submit(service)
    claimed = life.claim(backends.queue.receive(1, 0, 60)[0])
    assert claimed is not None
    service.cancel("me", job_id)
    assert life.complete(claimed.job, '{"late": true}') is False
    job = service.store.load(job_id)
    assert job is not None and job.status is JobStatus.CANCELLED and job.output is None


def test_reaper_requeues_a_job_whose_worker_vanished_then_fails_it(parts, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    backends, deployment, service, life = parts
    job_id = submit(service)
    message = backends.queue.receive(1, 0, 3600)[0]
    assert life.claim(message) is not None
    backends.queue.delete([message.receipt])  # the message is gone too: only the reaper can help
    clock.now += deployment.visibility_timeout * 2 + 1
    report = life.reap()
    assert report.requeued == [job_id]
    job = service.store.load(job_id)
    assert job is not None and job.status is JobStatus.PENDING and job.error == "worker lost: no heartbeat"

    again = backends.queue.receive(1, 0, 3600)[0]
    assert life.claim(again) is not None  # attempt 2 of 2
    backends.queue.delete([again.receipt])
    clock.now += deployment.visibility_timeout * 2 + 1
    report = life.reap()
    assert report.failed == [job_id]
    job = service.store.load(job_id)
    assert job is not None and job.status is JobStatus.FAILED
    assert job.error == "worker lost: no heartbeat after 2 attempts"


def test_reaper_reenqueues_a_pending_job_with_no_message(parts, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    backends, deployment, service, life = parts
    job_id = submit(service)
    backends.queue.delete([backends.queue.receive(1, 0, 60)[0].receipt])  # the enqueue was lost
    assert life.reap().requeued == []  # not yet: it may just be waiting its turn
    clock.now += deployment.pending_requeue_after + 1
    assert life.reap().requeued == [job_id]
    assert life.claim(backends.queue.receive(1, 0, 60)[0]) is not None


def test_reaper_fails_dead_lettered_jobs_with_the_reason(parts, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    backends, deployment, service, life = parts
    job_id = submit(service)
    for _ in range(deployment.max_receive_count):
        message = backends.queue.receive(1, 0, 5)[0]
        life.claim(message)
        clock.now += 5
    assert backends.queue.receive(1, 0, 5) == []  # the next receive moved it to the DLQ
    report = life.reap()
    assert report.dead_lettered == [job_id]
    job = service.store.load(job_id)
    assert job is not None and job.status is JobStatus.FAILED
    assert job.error is not None and job.error.startswith("dead-lettered after 2 attempts")


def test_reaper_purges_expired_jobs_and_their_blobs(parts, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    backends, deployment, service, life = parts
    big = '{"data": {"text": "' + "x" * (deployment.inline_limit + 1) + '"}}'
    job, _ = service.submit("me", Submission(payload=big, model_name="m"))
    assert job.input_ref is not None
    clock.now += deployment.async_result_ttl + 1
    assert life.reap().purged == 1
    assert service.store.load(job.job_id) is None
    with pytest.raises(KeyError):
        backends.blobs.get(job.input_ref)


def test_sqlite_queue_redrives_after_max_receives(tmp_path: Path, clock: Clock) -> None:
    queue = SqliteQueue(
        tmp_path / "q.sqlite3", "main", max_receive_count=2, dead_letter_name="dlq", clock=clock
    )
    queue.send("poison")
    for expected in (1, 2):
        [message] = queue.receive(1, 0, 1)
        assert message.receive_count == expected
        clock.now += 2
    assert queue.receive(1, 0, 1) == []
    dlq = queue.dead_letter_queue()
    assert dlq is not None and [m.body for m in dlq.receive(10, 0, 1)] == ["poison"]
