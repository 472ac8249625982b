"""Real SIGKILLs: a worker is killed again and again while 200 jobs are in flight; afterwards every
job is completed once, with its own result, and none is lost or stuck."""

from __future__ import annotations

import random
import time
from collections import Counter
from pathlib import Path

import pytest

from modalkit.status import JobStatus
from tests.helpers import SERVICES, start_worker, write_config
from tests.worker_harness import Harness

pytestmark = pytest.mark.slow

JOBS = 200
KILLS = 6


def test_repeated_sigkill_loses_nothing_and_completes_each_job_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_log = tmp_path / "runs.log"
    config = write_config(tmp_path, {"retries": 8, "visibility_timeout": 1.5, "heartbeat_interval": 0.2})
    h = Harness(config, monkeypatch)
    texts = [f"job{i}" for i in range(JOBS)]
    ids = [h.submit(t, sleep=0.25) for t in texts]
    rng = random.Random(7)
    kills = 0
    try:
        worker = start_worker(SERVICES / "echo.py", config, "victim", ECHO_RUN_LOG=str(run_log))
        steady = start_worker(SERVICES / "echo.py", config, "steady", ECHO_RUN_LOG=str(run_log))
        while kills < KILLS:
            time.sleep(rng.uniform(0.8, 1.5))
            worker.kill()  # SIGKILL to the worker and its pipeline child, mid-batch
            kills += 1
            worker = start_worker(SERVICES / "echo.py", config, "victim", ECHO_RUN_LOG=str(run_log))
        jobs = h.wait_terminal(ids, timeout=120)
    finally:
        for proc in (worker, steady):
            proc.stop()
        h.close()

    assert kills == KILLS
    statuses = Counter(job.status for job in jobs)
    assert statuses == {JobStatus.COMPLETED: JOBS}, statuses
    for text, job in zip(texts, jobs, strict=True):
        assert job.output == f'{{"result":{{"result":"{text.upper()}"}},"status":"completed"}}'
    runs = Counter(run_log.read_text().split())
    assert set(runs) == set(texts)  # every job really ran...
    assert any(job.attempts > 1 for job in jobs)  # the kills did land on running batches
    for job, text in zip(jobs, texts, strict=True):
        assert job.attempts >= 1
        assert runs[text] <= job.attempts  # ...and each run was a counted attempt, never a silent duplicate
