"""A Hypothesis state machine over the job store's transitions: whatever the order of submits,
receives, heartbeats, completions, failures, crashes, cancels, redeliveries, expiry and reaping, no
job ever leaves a terminal state or moves against the transition graph, and attempts never shrink."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from modalkit.backends.factory import open_backends
from modalkit.errors import JobConflict, JobNotFound
from modalkit.job import Job
from modalkit.lifecycle import Claimed, Lifecycle
from modalkit.service import JobService, Submission
from tests.conftest import make_settings


class JobMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="modalkit-sm-"))
        self.now = 1_000_000.0
        self.deployment = make_settings(
            self.dir, app_settings={"deployment_config": {"async_result_ttl": 500, "retries": 1}}
        ).app_settings.deployment_config
        self.backends = open_backends(self.deployment, clock=lambda: self.now)
        self.service = JobService(self.backends, self.deployment, clock=lambda: self.now)
        self.workers = [
            Lifecycle(self.backends, self.deployment, worker_id=f"w{i}", clock=lambda: self.now)
            for i in range(2)
        ]
        self.held: list[tuple[Lifecycle, Claimed]] = []
        self.seen: dict[str, Job] = {}

    def teardown(self) -> None:
        self.backends.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    @rule()
    def submit(self) -> None:
        job, _ = self.service.submit("me", Submission(payload="{}", model_name="m"))
        self.seen[job.job_id] = job

    @rule(worker=st.integers(0, 1), count=st.integers(1, 3))
    def receive(self, worker: int, count: int) -> None:
        life = self.workers[worker]
        for message in self.backends.queue.receive(count, 0, self.deployment.visibility_timeout):
            claimed = life.claim(message)
            if claimed is None:
                self.backends.queue.delete([message.receipt])
            else:
                self.held.append((life, claimed))

    @precondition(lambda self: bool(self.held))
    @rule(data=st.data())
    def heartbeat(self, data: st.DataObject) -> None:
        life, claimed = self.held[data.draw(st.integers(0, len(self.held) - 1))]
        self.backends.store.touch([claimed.job.job_id], self.now, life.worker_id)
        self.backends.queue.change_visibility([claimed.message.receipt], self.deployment.visibility_timeout)

    @precondition(lambda self: bool(self.held))
    @rule(data=st.data(), outcome=st.sampled_from(["complete", "fail", "crash"]))
    def finish(self, data: st.DataObject, outcome: str) -> None:
        index = data.draw(st.integers(0, len(self.held) - 1))
        life, claimed = self.held.pop(index)
        if outcome == "complete":
            life.complete(claimed.job, '{"ok": true}')
            self.backends.queue.delete([claimed.message.receipt])
        elif outcome == "fail":
            life.fail(claimed.job, "boom")
            self.backends.queue.delete([claimed.message.receipt])
        else:
            life.retry_or_fail(claimed, "child died")

    @precondition(lambda self: bool(self.seen))
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        ids = list(self.seen)  # insertion order: job ids are random, their order must not be
        job_id = ids[data.draw(st.integers(0, len(ids) - 1))]
        try:
            self.service.cancel("me", job_id)
        except (JobConflict, JobNotFound):
            pass

    @rule(seconds=st.sampled_from([0.1, 1.0, 5.0]))
    def tick(self, seconds: float) -> None:
        self.now += seconds

    @rule()
    def redeliver(self) -> None:
        self.now += self.deployment.visibility_timeout + 0.01

    @rule()
    def expire(self) -> None:
        self.now += self.deployment.async_result_ttl + 1

    @rule()
    def reap(self) -> None:
        self.workers[0].reap()

    @invariant()
    def never_backwards_never_out_of_terminal(self) -> None:
        for job_id, before in list(self.seen.items()):
            after = self.backends.store.load(job_id)
            if after is None:
                assert (
                    before.is_expired(self.now)
                    or before.status.is_terminal()
                    or before.expires_at <= self.now
                )
                del self.seen[job_id]
                continue
            if before.status.is_terminal():
                assert after == before, f"terminal job changed: {before} -> {after}"
            else:
                assert after.status == before.status or before.status.can_move_to(after.status), (
                    f"illegal move {before.status} -> {after.status}"
                )
            assert after.attempts >= before.attempts
            self.seen[job_id] = after


TestJobMachine = JobMachine.TestCase
TestJobMachine.settings = settings(
    max_examples=60, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
