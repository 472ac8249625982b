"""The job store contract: conditional transitions, conflicts, expiry on read, idempotency keys."""

from __future__ import annotations

import time
import uuid

import pytest

from modalkit.backends.factory import Backends
from modalkit.errors import AlreadyExists, JobConflict
from modalkit.job import Job
from modalkit.status import JobStatus

NOW = time.time()


def new_job(**fields: object) -> Job:
    values: dict[str, object] = {
        "job_id": uuid.uuid4().hex,
        "owner": "me",
        "status": JobStatus.PENDING,
        "created_at": NOW,
        "updated_at": NOW,
        "expires_at": NOW + 3600,
        "model_name": "m",
        "input": '{"x": 1}',
    }
    values.update(fields)
    return Job(**values)  # type: ignore[arg-type]


def test_create_then_load_round_trips(backends: Backends) -> None:
    job = new_job(progress=0.5, error="e", extra={"k": "v"})
    backends.store.create(job)
    assert backends.store.load(job.job_id) == job
    assert backends.store.load("missing") is None


def test_create_twice_is_refused(backends: Backends) -> None:
    job = new_job()
    backends.store.create(job)
    with pytest.raises(AlreadyExists):
        backends.store.create(job)


def test_compare_and_set_moves_only_from_the_expected_status(backends: Backends) -> None:
    job = new_job()
    backends.store.create(job)
    moved = backends.store.move(
        job.job_id, JobStatus.PROCESSING, expect=(JobStatus.PENDING,), now=NOW + 1, attempts=1, worker="w"
    )
    assert (moved.status, moved.attempts, moved.worker, moved.updated_at) == (
        JobStatus.PROCESSING,
        1,
        "w",
        NOW + 1,
    )
    with pytest.raises(JobConflict) as lost:
        backends.store.move(job.job_id, JobStatus.PROCESSING, expect=(JobStatus.PENDING,), now=NOW + 2)
    assert lost.value.current is not None and lost.value.current.status is JobStatus.PROCESSING


def test_updated_at_guard_detects_a_concurrent_change(backends: Backends) -> None:
    job = new_job()
    backends.store.create(job)
    backends.store.touch([job.job_id], NOW + 5, "w")  # not processing: no change
    with pytest.raises(JobConflict):
        backends.store.move(
            job.job_id, JobStatus.PENDING, expect=(JobStatus.PENDING,), expect_updated_at=NOW - 1, now=NOW + 1
        )
    same = backends.store.move(
        job.job_id, JobStatus.PENDING, expect=(JobStatus.PENDING,), expect_updated_at=NOW, now=NOW + 1
    )
    assert same.updated_at == NOW + 1


def test_terminal_jobs_never_move(backends: Backends) -> None:
    job = new_job(status=JobStatus.COMPLETED, output='{"r": 1}')
    backends.store.create(job)
    for target in (JobStatus.PROCESSING, JobStatus.FAILED, JobStatus.CANCELLED):
        with pytest.raises(JobConflict):
            backends.store.move(
                job.job_id, target, expect=(JobStatus.PENDING, JobStatus.PROCESSING), now=NOW + 1
            )
    assert backends.store.load(job.job_id) == job


def test_setting_a_field_to_none_clears_it(backends: Backends) -> None:
    job = new_job(error="old")
    backends.store.create(job)
    moved = backends.store.move(
        job.job_id, JobStatus.PROCESSING, expect=(JobStatus.PENDING,), now=NOW, error=None
    )
    assert moved.error is None
    assert backends.store.load(job.job_id).error is None  # type: ignore[union-attr]


def test_expired_jobs_are_gone_on_read_before_deletion(backends: Backends) -> None:
    job = new_job(expires_at=NOW - 1)
    backends.store.create(job)
    assert backends.store.load(job.job_id) is not None  # still stored (TTL deletion is lazy)
    assert backends.store.get(job.job_id, NOW) is None


def test_touch_reports_cancelled_and_missing_jobs(backends: Backends) -> None:
    live = new_job(status=JobStatus.PROCESSING)
    gone_soon = new_job(status=JobStatus.PROCESSING)
    for job in (live, gone_soon):
        backends.store.create(job)
    backends.store.move(gone_soon.job_id, JobStatus.CANCELLED, expect=(JobStatus.PROCESSING,), now=NOW)
    seen = backends.store.touch([live.job_id, gone_soon.job_id, "missing"], NOW + 3, "w")
    assert seen[live.job_id] is not None and seen[live.job_id].updated_at == NOW + 3  # type: ignore[union-attr]
    assert seen[gone_soon.job_id] is not None and seen[gone_soon.job_id].status is JobStatus.CANCELLED  # type: ignore[union-attr]
    assert seen["missing"] is None


def test_idempotency_keys_bind_once_until_they_expire(backends: Backends) -> None:
    store = backends.store
    assert store.claim_key("k", "hash-a", "job-1", NOW + 10, NOW) is None
    binding = store.claim_key("k", "hash-b", "job-2", NOW + 10, NOW)
    assert binding is not None and (binding.job_id, binding.request_hash) == ("job-1", "hash-a")
    assert store.claim_key("k", "hash-c", "job-3", NOW + 30, NOW + 11) is None  # the old binding expired
    rebound = store.claim_key("k", "hash-d", "job-4", NOW + 30, NOW + 12)
    assert rebound is not None and rebound.job_id == "job-3"


def test_delete_removes_the_job_and_its_key(backends: Backends) -> None:
    job = new_job(idempotency_key="key-1")
    assert backends.store.claim_key("key-1", "h", job.job_id, NOW + 100, NOW) is None
    backends.store.create(job)
    backends.store.delete(job.job_id)
    assert backends.store.load(job.job_id) is None
    assert backends.store.claim_key("key-1", "h2", "other", NOW + 100, NOW) is None


def test_find_and_count_ahead_follow_status_and_time(backends: Backends) -> None:
    jobs = [new_job(created_at=NOW + i, updated_at=NOW + i) for i in range(4)]
    for job in jobs:
        backends.store.create(job)
    backends.store.move(jobs[0].job_id, JobStatus.PROCESSING, expect=(JobStatus.PENDING,), now=NOW + 100)
    assert backends.store.count_ahead(jobs[3]) == 2  # jobs 1 and 2 are pending ahead of it
    stale = backends.store.find(JobStatus.PENDING, updated_before=NOW + 2.5)
    assert {j.job_id for j in stale} == {jobs[1].job_id, jobs[2].job_id}
    assert [j.job_id for j in backends.store.find(JobStatus.PROCESSING, NOW + 101)] == [jobs[0].job_id]
