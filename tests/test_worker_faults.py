"""One tiny pipeline per failure mode, run by a real `modalkit worker` process."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modalkit.status import JobStatus
from tests.helpers import SERVICES, Proc, start_worker, write_config
from tests.worker_harness import Harness

pytestmark = pytest.mark.slow


@pytest.fixture
def harness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    made: list[Harness] = []
    procs: list[Proc] = []

    def setup(service: str, **deployment: Any) -> tuple[Harness, Proc]:
        config = write_config(tmp_path, deployment)
        h = Harness(config, monkeypatch)
        made.append(h)
        proc = start_worker(SERVICES / service, config)
        procs.append(proc)
        return h, proc

    yield setup
    for proc in procs:
        proc.stop()
    for h in made:
        h.close()


def test_raise_in_load_fails_the_job_with_the_reason(harness: Any) -> None:
    h, _ = harness("raise_in_load.py")
    [job] = h.wait_terminal([h.submit("a")])
    assert job.status is JobStatus.FAILED
    assert job.error == "pipeline failed to load: RuntimeError: weights file missing"
    assert job.attempts == 1


def test_raise_in_predict_fails_the_batch_with_the_message(harness: Any) -> None:
    h, _ = harness("raise_in_predict.py")
    jobs = h.wait_terminal([h.submit("a"), h.submit("b")])
    for job in jobs:
        assert job.status is JobStatus.FAILED
        assert job.error == "ValueError: bad tensor shape (3, 224)"
        assert "Traceback" not in job.error
        assert job.attempts == 1


def test_blocking_code_is_killed_at_the_timeout_and_the_worker_goes_on(harness: Any) -> None:
    h, proc = harness("block_forever.py", async_job_timeout=1.5)
    first = h.submit("a")
    h.wait_terminal([first])
    second = h.submit("b")
    jobs = h.wait_terminal([first, second])
    for job in jobs:
        assert job.status is JobStatus.FAILED
        assert job.error == "timed out after 1.5 s"
        assert job.attempts == 1
    assert proc.alive()


def test_a_child_that_exits_is_retried_then_dead_lettered(harness: Any) -> None:
    h, proc = harness("exit_process.py", retries=1)
    [job] = h.wait_terminal([h.submit("a")])
    assert job.status is JobStatus.FAILED
    assert job.error == "the worker process exited with code 3 (after 2 attempts)"
    assert job.attempts == 2
    dlq = h.backends.queue.dead_letter_queue()
    assert dlq is not None and dlq.depth() == 1
    assert proc.alive()


def test_cancel_of_a_processing_job_stops_it_and_discards_its_result(harness: Any) -> None:
    h, _ = harness("echo.py", cancel_grace=0.5)
    job_id = h.submit("slow", sleep=30)
    h.wait_for(job_id, lambda j: j.status is JobStatus.PROCESSING)
    h.jobs.cancel("owner", job_id)
    follow_up = h.submit("next")
    [after] = h.wait_terminal([follow_up], timeout=20)
    assert after.status is JobStatus.COMPLETED
    cancelled = h.job(job_id)
    assert cancelled.status is JobStatus.CANCELLED
    assert cancelled.output is None and cancelled.output_ref is None


def test_progress_shows_while_a_job_runs(harness: Any) -> None:
    h, _ = harness("echo.py")
    job_id = h.submit("progress", sleep=3)
    seen = h.wait_for(job_id, lambda j: j.progress is not None and 0 < j.progress < 1)
    assert seen.progress_message is not None and seen.progress_message.startswith("step ")
    [done] = h.wait_terminal([job_id])
    assert done.status is JobStatus.COMPLETED and done.progress == 1.0


def test_heartbeats_keep_a_long_job_from_being_redelivered(harness: Any, tmp_path: Path) -> None:
    h, _ = harness("echo.py")  # visibility timeout 2 s; the job runs 5 s
    second = start_worker(SERVICES / "echo.py", h_config(tmp_path), "second")
    try:
        [job] = h.wait_terminal([h.submit("long", sleep=5)], timeout=30)
    finally:
        second.stop()
    assert job.status is JobStatus.COMPLETED
    assert job.attempts == 1


def h_config(tmp_path: Path) -> Path:
    return tmp_path / "modalkit.yaml"


def test_sigterm_finishes_the_running_batch_then_exits_zero(harness: Any) -> None:
    h, proc = harness("echo.py")
    job_id = h.submit("finish me", sleep=1.5)
    h.wait_for(job_id, lambda j: j.status is JobStatus.PROCESSING)
    proc.popen.send_signal(signal.SIGTERM)
    assert proc.popen.wait(20) == 0
    assert h.job(job_id).status is JobStatus.COMPLETED


def test_sigterm_past_the_stop_timeout_releases_the_batch(harness: Any) -> None:
    h, proc = harness("echo.py", stop_timeout=0.5)
    job_id = h.submit("too long", sleep=20)
    h.wait_for(job_id, lambda j: j.status is JobStatus.PROCESSING)
    proc.popen.send_signal(signal.SIGTERM)
    assert proc.popen.wait(20) == 0
    job = h.job(job_id)
    assert job.status is JobStatus.PENDING
    assert h.backends.queue.depth() == 1  # visible again at once, for another worker
