"""The worker loop: receive a batch, claim its jobs, run it in the child, store the outcomes.

While a batch runs the supervisor heartbeats (message visibility and job `updated_at`), passes on
cancels, enforces the job timeout by killing the child, and prefetches the next batch.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType

from modalkit.backends.factory import Backends
from modalkit.job import Job
from modalkit.lifecycle import Claimed, Lifecycle
from modalkit.logs import get_logger
from modalkit.ports import Message
from modalkit.settings import Settings
from modalkit.status import JobStatus
from modalkit.worker.events import BatchDone, Cancel, Item, Outcome, Progress, RunBatch
from modalkit.worker.metrics import emit_batch_metrics
from modalkit.worker.process import ChildDied, ChildProcess

log = get_logger(__name__)

_PROGRESS_EVERY = 0.25
_RECEIVE_WAIT = 1.0


@dataclass
class WorkerStats:
    batches: int = 0
    completed: int = 0
    failed: int = 0
    retried: int = 0
    started: float = field(default_factory=time.monotonic)


class Worker:
    def __init__(
        self,
        service_path: str,
        settings: Settings,
        backends: Backends,
        *,
        drain: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.deployment = settings.app_settings.deployment_config
        self.batching = settings.app_settings.batch_config
        self.queue = backends.queue
        self.store = backends.store
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}"
        self.lifecycle = Lifecycle(backends, self.deployment, worker_id=self.worker_id, clock=clock)
        self.child = ChildProcess(service_path)
        self.drain = drain
        self.clock = clock
        self.stopping = False
        self.stats = WorkerStats()
        self._batch_seq = 0
        # The next batch, received and claimed while the current one runs, so the child never waits.
        self._next: list[Claimed] = []
        # A batch already handed to the child (sent the moment the previous one finished).
        self._dispatched: tuple[list[Claimed], int] | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self._on_stop_signal)
        signal.signal(signal.SIGINT, self._on_stop_signal)

    def _on_stop_signal(self, signum: int, frame: FrameType | None) -> None:
        log.info("stop requested: finishing the running batch", extra={"signal": signal.Signals(signum).name})
        self.stopping = True

    def run(self) -> WorkerStats:
        """Work until told to stop (or, in drain mode, until the queue is empty)."""
        self.child.start()
        error = self.child.wait_ready(self.deployment.async_job_timeout)
        if error:
            log.error(error)
        log.info("worker ready", extra={"worker": self.worker_id})
        try:
            while not self.stopping:
                batch, self._next = self._next, []
                if not batch:
                    messages = self._receive(_RECEIVE_WAIT)
                    if not messages and self.drain:
                        break
                    batch = self.claim(messages)
                if batch:
                    self.run_batch(batch)
        finally:
            for held in self._next:
                self.lifecycle.release(held)
            self._next = []
            self.child.stop()
            log.info(
                "worker stopped", extra={"batches": self.stats.batches, "completed": self.stats.completed}
            )
        return self.stats

    # -- one batch ---------------------------------------------------------------------------
    def _receive(self, wait: float) -> list[Message]:
        """Up to max_batch_size messages: wait for the first, then up to wait_ms for the rest."""
        size = self.batching.max_batch_size
        visibility = self.deployment.visibility_timeout
        got = self.queue.receive(size, wait, visibility)
        if not got or len(got) >= size or self.batching.wait_ms <= 0:
            return got
        deadline = time.monotonic() + self.batching.wait_ms / 1000
        while len(got) < size and not self.stopping:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            got += self.queue.receive(size - len(got), remaining, visibility)
        return got

    def claim(self, messages: list[Message]) -> list[Claimed]:
        """Claim the messages' jobs and load their inputs; ack the messages there is nothing to do for."""
        claimed: list[Claimed] = []
        skipped: list[str] = []
        with self.store.batch():
            self._claim_into(messages, claimed, skipped)
        self.queue.delete(skipped)
        return claimed

    def _claim_into(self, messages: list[Message], claimed: list[Claimed], skipped: list[str]) -> None:
        for message in messages:
            held = self.lifecycle.claim(message)
            if held is None:
                skipped.append(message.receipt)
                continue
            payload = self.lifecycle.load_input(held)
            if payload is None:
                skipped.append(message.receipt)
                continue
            held.payload = payload
            claimed.append(held)

    def run_batch(self, batch: list[Claimed]) -> None:
        self.stats.batches += 1
        if self._dispatched is not None and self._dispatched[0] is batch:
            batch_id = self._dispatched[1]
        else:
            error = self.child.wait_ready(self.deployment.async_job_timeout)
            if error:
                self._finish_all(batch, error)
                return
            batch_id = self._dispatch(batch)
        self._dispatched = None
        started = time.monotonic()
        self._top_up_next()
        next_top_up = started + self.queue.prefetch_every
        timeout = self.deployment.async_job_timeout
        next_beat = started + self.deployment.heartbeat_every
        last_progress = 0.0
        cancelled: set[str] = set()
        cancel_deadline: float | None = None
        stop_deadline: float | None = None
        while True:
            now = time.monotonic()
            wait = max(
                0.0,
                min(next_beat, started + timeout, cancel_deadline or now + 1, stop_deadline or now + 1) - now,
            )
            try:
                # While the next batch has room, look for work often, so it leaves full.
                event = self.child.poll(min(wait, 0.2 if self._next_is_full() else self.queue.prefetch_every))
            except ChildDied as died:
                self._child_died(batch, str(died))
                return
            if isinstance(event, BatchDone) and event.batch_id == batch_id:
                if self._next and not self.stopping:
                    # Keep the child busy: hand it the next batch before storing this one's outcomes.
                    self._dispatched = (self._next, self._dispatch(self._next))
                self._store_outcomes(batch, event.outcomes, time.monotonic() - started)
                return
            if isinstance(event, Progress) and event.batch_id == batch_id:
                if time.monotonic() - last_progress >= _PROGRESS_EVERY or event.fraction == 1.0:
                    last_progress = time.monotonic()
                    for held in batch:
                        self.lifecycle.progress(held.job.job_id, event.fraction, event.message)
            now = time.monotonic()
            if now - started >= timeout:
                self.child.kill()
                self._finish_all(batch, f"timed out after {timeout:g} s")
                return
            if self.stopping and stop_deadline is None:
                stop_deadline = now + self.deployment.stop_timeout
            if stop_deadline is not None and now >= stop_deadline:
                self.child.kill()
                for held in batch:
                    self.lifecycle.release(held)
                log.info("released a running batch on stop", extra={"jobs": len(batch)})
                return
            if now >= next_beat:
                next_beat = now + self.deployment.heartbeat_every
                gone = self._heartbeat(batch)
                if gone:
                    cancelled |= gone
                    self.child.send(Cancel(tuple(sorted(cancelled))))
                    if cancel_deadline is None and len(cancelled) == len(batch):
                        cancel_deadline = now + self.deployment.cancel_grace
            if now >= next_top_up:
                next_top_up = now + self.queue.prefetch_every
                self._top_up_next()
            if cancel_deadline is not None and now >= cancel_deadline:
                self.child.kill()
                self.queue.delete([held.message.receipt for held in batch])
                log.info("killed a cancelled batch after its grace period", extra={"jobs": len(batch)})
                return

    def _dispatch(self, batch: list[Claimed]) -> int:
        self._batch_seq += 1
        items = tuple(Item(c.job.job_id, c.job.model_name, c.payload) for c in batch)
        self.child.send(RunBatch(self._batch_seq, items))
        return self._batch_seq

    def _next_is_full(self) -> bool:
        return self.stopping or self.drain or len(self._next) >= self.batching.max_batch_size

    def _top_up_next(self) -> None:
        """Fill the next batch from the queue without waiting (prefetch while the child works)."""
        if self._next_is_full():
            return
        room = self.batching.max_batch_size - len(self._next)
        messages = self.queue.receive(room, 0, self.deployment.visibility_timeout)
        if messages:
            self._next = self._next + self.claim(messages)

    def _heartbeat(self, batch: list[Claimed]) -> set[str]:
        """Extend visibility and bump `updated_at`; return the ids of jobs cancelled or gone."""
        held = batch + self._next
        self.queue.change_visibility([h.message.receipt for h in held], self.deployment.visibility_timeout)
        seen = self.store.touch([h.job.job_id for h in held], self.clock(), self.worker_id)
        gone = {
            job_id for job_id, job in seen.items() if job is None or job.status is not JobStatus.PROCESSING
        }
        if gone:
            # A cancelled job that has not started yet is simply dropped from the next batch.
            dropped = [h for h in self._next if h.job.job_id in gone]
            self._next = [h for h in self._next if h.job.job_id not in gone]
            self.queue.delete([h.message.receipt for h in dropped])
        return {h.job.job_id for h in batch if h.job.job_id in gone}

    # -- endings -----------------------------------------------------------------------------
    def _store_outcomes(self, batch: list[Claimed], outcomes: tuple[Outcome, ...], seconds: float) -> None:
        by_id = {o.job_id: o for o in outcomes}
        finished: list[Job] = []
        with self.store.batch():
            for held in batch:
                outcome = by_id.get(held.job.job_id) or Outcome(
                    held.job.job_id, error="the pipeline gave no output"
                )
                if outcome.output is not None:
                    if self.lifecycle.complete(held.job, outcome.output):
                        self.stats.completed += 1
                        finished.append(held.job)
                elif self.lifecycle.fail(held.job, outcome.error or "failed"):
                    self.stats.failed += 1
        self.queue.delete([held.message.receipt for held in batch])
        emit_batch_metrics(
            len(batch), len(finished), seconds, [self.clock() - j.created_at for j in finished]
        )

    def _finish_all(self, batch: list[Claimed], error: str) -> None:
        for held in batch:
            if self.lifecycle.fail(held.job, error):
                self.stats.failed += 1
        self.queue.delete([held.message.receipt for held in batch])

    def _child_died(self, batch: list[Claimed], reason: str) -> None:
        log.error("pipeline process died", extra={"reason": reason, "jobs": len(batch)})
        self.child.kill()
        for held in batch:
            if self.lifecycle.retry_or_fail(held, reason) == JobStatus.PENDING:
                self.stats.retried += 1
            else:
                self.stats.failed += 1
        self.child.start()
