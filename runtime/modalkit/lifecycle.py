"""Worker-side job transitions and the reaper, on the three ports.

Every move is one compare-and-set, so a redelivered message, a late worker or a cancel can never
move a job backwards or overwrite a terminal state.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from modalkit.backends.factory import Backends
from modalkit.errors import JobConflict
from modalkit.job import Job
from modalkit.logs import get_logger
from modalkit.ports import BlobNotFound, Message
from modalkit.service import decode_message, encode_message
from modalkit.settings import DeploymentConfig
from modalkit.status import ACTIVE, JobStatus

log = get_logger(__name__)


def result_key(job: Job) -> str:
    # One key per attempt: a late worker that loses the race never overwrites the winner's blob.
    return f"results/{job.job_id}/{job.attempts}.json"


@dataclass
class Claimed:
    """A job this worker now holds, with the message that brought it."""

    job: Job
    message: Message
    payload: str = ""


@dataclass
class ReapReport:
    requeued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    dead_lettered: list[str] = field(default_factory=list)
    purged: int = 0


class Lifecycle:
    def __init__(
        self,
        backends: Backends,
        deployment: DeploymentConfig,
        *,
        worker_id: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = backends.store
        self.queue = backends.queue
        self.blobs = backends.blobs
        self.deployment = deployment
        self.worker_id = worker_id
        self.clock = clock

    @property
    def stale_after(self) -> float:
        """A processing job whose heartbeat is older than this has lost its worker.

        Heartbeats come every `heartbeat_every` (a fifth of the visibility timeout by default), and
        a dead worker's message reappears only after a whole visibility timeout; half of it tells
        the two apart.
        """
        return self.deployment.visibility_timeout / 2

    # -- claim -------------------------------------------------------------------------------
    def claim(self, message: Message) -> Claimed | None:
        """Take the job a message names, or None when the message is to be acked and skipped."""
        try:
            job_id, _ = decode_message(message.body)
        except (ValueError, KeyError, TypeError):
            log.error("dropping a message that names no job", extra={"body": message.body[:200]})
            return None
        now = self.clock()
        job = self.store.get(job_id, now)
        if job is None or job.status not in ACTIVE:
            return None
        if job.status is JobStatus.PROCESSING and now - job.updated_at < self.stale_after:
            return None  # a duplicate delivery: a live worker holds this job
        if job.attempts >= self.deployment.max_receive_count:
            self._give_up(job, now, f"gave up after {job.attempts} attempts: {job.error or 'worker lost'}")
            return None
        try:
            held = self.store.move(
                job_id,
                JobStatus.PROCESSING,
                expect=(job.status,),
                expect_updated_at=job.updated_at,
                now=now,
                attempts=job.attempts + 1,
                started_at=now,
                worker=self.worker_id,
            )
        except JobConflict:
            return None
        return Claimed(held, message)

    def load_input(self, claimed: Claimed) -> str | None:
        """The job's request JSON, or None after failing a job whose input is gone."""
        job = claimed.job
        if job.input is not None:
            return job.input
        try:
            return self.blobs.get(job.input_ref or "").decode()
        except (BlobNotFound, ValueError):
            self.fail(job, "the job's uploaded input was not found; upload it, then submit again")
            return None

    # -- finish ------------------------------------------------------------------------------
    def complete(self, job: Job, output_json: str) -> bool:
        """Store the output and mark the job completed; False if the job was no longer ours."""
        output: str | None = output_json
        key = None
        if len(output_json) > self.deployment.inline_limit:
            key = result_key(job)
            self.blobs.put(key, output_json.encode())
            output = None
        now = self.clock()
        try:
            done = self.store.move(
                job.job_id,
                JobStatus.COMPLETED,
                expect=(JobStatus.PROCESSING,),
                now=now,
                finished_at=now,
                progress=1.0,
                error=None,
                output=output,
                output_ref=key,
            )
        except JobConflict:
            if key is not None:
                self.blobs.delete([key])
            return False
        self._notify(done, done.success_queue, output_json)
        return True

    def fail(self, job: Job, error: str) -> bool:
        now = self.clock()
        try:
            done = self.store.move(
                job.job_id,
                JobStatus.FAILED,
                expect=(JobStatus.PROCESSING,),
                now=now,
                finished_at=now,
                error=error,
            )
        except JobConflict:
            return False
        self._notify(done, done.failure_queue, None)
        return True

    def retry_or_fail(self, claimed: Claimed, reason: str) -> str:
        """After a crash: back to pending (message released now) or, out of attempts, failed and
        dead-lettered. Returns the job's new status."""
        job = claimed.job
        if job.attempts >= self.deployment.max_receive_count:
            self.fail(job, f"{reason} (after {job.attempts} attempts)")
            self.queue.dead_letter(claimed.message)
            return JobStatus.FAILED
        try:
            self.store.move(
                job.job_id,
                JobStatus.PENDING,
                expect=(JobStatus.PROCESSING,),
                now=self.clock(),
                error=reason,
                worker=None,
            )
        except JobConflict:
            self.queue.delete([claimed.message.receipt])
            return "gone"
        self.queue.change_visibility([claimed.message.receipt], 0)
        return JobStatus.PENDING

    def release(self, claimed: Claimed) -> None:
        """Give a job back untouched (graceful stop): pending again, its message visible now."""
        try:
            self.store.move(
                claimed.job.job_id,
                JobStatus.PENDING,
                expect=(JobStatus.PROCESSING,),
                now=self.clock(),
                worker=None,
            )
        except JobConflict:
            self.queue.delete([claimed.message.receipt])
            return
        self.queue.change_visibility([claimed.message.receipt], 0)

    def progress(self, job_id: str, fraction: float | None, message: str | None) -> None:
        try:
            self.store.update(
                job_id,
                expect=(JobStatus.PROCESSING,),
                changes={"progress": fraction, "progress_message": message, "updated_at": self.clock()},
            )
        except JobConflict:
            pass

    def _give_up(self, job: Job, now: float, error: str) -> None:
        try:
            done = self.store.move(
                job.job_id, JobStatus.FAILED, expect=(job.status,), now=now, finished_at=now, error=error
            )
        except JobConflict:
            return
        self._notify(done, done.failure_queue, None)

    def _notify(self, job: Job, queue_name: str | None, output_json: str | None) -> None:
        """Send the outcome to a queue the request named (modalkit's success/failure queues)."""
        if not queue_name:
            return
        body: dict[str, object] = {"job_id": job.job_id, "status": str(job.status)}
        if output_json is not None and len(output_json) <= self.deployment.inline_limit:
            body["result"] = json.loads(output_json)
        if job.error:
            body["error"] = job.error
        try:
            self.queue.sibling(queue_name).send(json.dumps(body))
        except Exception:
            log.exception("could not notify queue", extra={"queue": queue_name, "job_id": job.job_id})

    # -- reaper ------------------------------------------------------------------------------
    def reap(self, now: float | None = None) -> ReapReport:
        """Find jobs nobody will finish, and finish or re-enqueue them. Safe to run anywhere, often."""
        now = self.clock() if now is None else now
        report = ReapReport()
        # Dead letters first: their reason says more than "worker lost".
        self._drain_dead_letters(now, report)
        lapse = self.deployment.visibility_timeout * 2
        for job in self.store.find(JobStatus.PROCESSING, now - lapse):
            if job.attempts >= self.deployment.max_receive_count:
                self._fail_lost(job, now, report)
            else:
                self._requeue(job, JobStatus.PROCESSING, now, "worker lost: no heartbeat", report)
        for job in self.store.find(JobStatus.PENDING, now - self.deployment.pending_requeue_after):
            self._requeue(job, JobStatus.PENDING, now, job.error, report)
        for job in self.store.purge_expired(now):
            self.blobs.delete([ref for ref in (job.input_ref, job.output_ref) if ref])
            report.purged += 1
        return report

    def _fail_lost(self, job: Job, now: float, report: ReapReport) -> None:
        try:
            done = self.store.move(
                job.job_id,
                JobStatus.FAILED,
                expect=(JobStatus.PROCESSING,),
                expect_updated_at=job.updated_at,
                now=now,
                finished_at=now,
                error=f"worker lost: no heartbeat after {job.attempts} attempts",
            )
        except JobConflict:
            return
        report.failed.append(job.job_id)
        self._notify(done, done.failure_queue, None)

    def _requeue(
        self, job: Job, expect: JobStatus, now: float, error: str | None, report: ReapReport
    ) -> None:
        try:
            moved = self.store.move(
                job.job_id,
                JobStatus.PENDING,
                expect=(expect,),
                expect_updated_at=job.updated_at,
                now=now,
                error=error,
                worker=None,
            )
        except JobConflict:
            return
        self.queue.send(encode_message(moved))
        report.requeued.append(job.job_id)

    def _drain_dead_letters(self, now: float, report: ReapReport) -> None:
        dlq = self.queue.dead_letter_queue()
        if dlq is None:
            return
        while True:
            messages = dlq.receive(10, 0, 30)
            if not messages:
                return
            for message in messages:
                self.dead_lettered(message, now, report)
            dlq.delete([m.receipt for m in messages])

    def dead_lettered(self, message: Message, now: float, report: ReapReport | None = None) -> None:
        """A message reached the dead-letter queue: fail its job unless a live worker holds it."""
        try:
            job_id, _ = decode_message(message.body)
        except (ValueError, KeyError, TypeError):
            return
        job = self.store.get(job_id, now)
        if job is None or job.status not in ACTIVE:
            return
        if job.status is JobStatus.PROCESSING and now - job.updated_at < self.stale_after:
            return
        error = f"dead-lettered after {job.attempts} attempts: {job.error or 'the worker kept dying'}"
        try:
            done = self.store.move(
                job_id,
                JobStatus.FAILED,
                expect=(job.status,),
                expect_updated_at=job.updated_at,
                now=now,
                finished_at=now,
                error=error,
            )
        except JobConflict:
            return
        if report is not None:
            report.dead_lettered.append(job_id)
        self._notify(done, done.failure_queue, None)
