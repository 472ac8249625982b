"""Submit through the real job service and watch jobs in the real store, beside worker processes."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from modalkit.backends.factory import Backends, open_backends
from modalkit.job import Job
from modalkit.service import JobService, Submission
from modalkit.settings import load_settings
from modalkit.status import TERMINAL


class Harness:
    def __init__(self, config: Path, monkeypatch: Any) -> None:
        monkeypatch.setenv("MODALKIT_CONFIG", str(config))
        self.settings = load_settings()
        self.deployment = self.settings.app_settings.deployment_config
        self.backends: Backends = open_backends(self.deployment)
        self.jobs = JobService(self.backends, self.deployment)

    def submit(self, text: str, sleep: float = 0.0) -> str:
        payload = f'{{"data": {{"text": "{text}", "sleep": {sleep}}}}}'
        job, _ = self.jobs.submit("owner", Submission(payload=payload, model_name="fixture"))
        return job.job_id

    def job(self, job_id: str) -> Job:
        job = self.backends.store.load(job_id)
        assert job is not None
        return job

    def wait_terminal(self, job_ids: list[str], timeout: float = 30) -> list[Job]:
        deadline = time.monotonic() + timeout
        while True:
            jobs = [self.job(i) for i in job_ids]
            if all(j.status in TERMINAL for j in jobs):
                return jobs
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"not terminal after {timeout} s: {[(j.job_id, j.status) for j in jobs]}"
                )
            time.sleep(0.05)

    def wait_for(self, job_id: str, predicate: Any, timeout: float = 20) -> Job:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.job(job_id)
            if predicate(job):
                return job
            time.sleep(0.05)
        raise AssertionError(f"job {job_id} never matched; last seen {self.job(job_id)}")

    def close(self) -> None:
        self.backends.close()
