"""The three ports. Adapters implement small primitives; shared logic stays here.

Nothing above this layer imports sqlite3 or boto3: it talks to these classes only.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

from modalkit.errors import JobConflict
from modalkit.job import Job
from modalkit.status import JobStatus


@dataclass(frozen=True)
class KeyBinding:
    job_id: str
    request_hash: str


class JobStore(ABC):
    """Job records. Every status change is a compare-and-set on `status`."""

    # -- primitives --------------------------------------------------------------------------
    @abstractmethod
    def create(self, job: Job) -> None:
        """Store a new job; `AlreadyExists` if its id is taken."""

    @abstractmethod
    def load(self, job_id: str) -> Job | None:
        """The stored record, expired or not."""

    @abstractmethod
    def update(
        self,
        job_id: str,
        *,
        expect: Collection[JobStatus],
        changes: Mapping[str, Any],
        expect_updated_at: float | None = None,
    ) -> Job:
        """Apply `changes` only if the status is one of `expect` (and `updated_at` matches, if given).

        Returns the new record; raises `JobConflict` carrying the current record (or None) otherwise.
        """

    @abstractmethod
    def delete(self, job_id: str) -> None:
        """Remove the record (and its idempotency key, if any)."""

    @abstractmethod
    def claim_key(
        self, key: str, request_hash: str, job_id: str, expires_at: float, now: float
    ) -> KeyBinding | None:
        """Bind an idempotency key to `job_id` unless a live binding exists.

        Returns None when the key is now ours, else the existing binding.
        """

    @abstractmethod
    def find(self, status: JobStatus, updated_before: float, limit: int = 100) -> list[Job]:
        """Jobs in `status` whose `updated_at` is older than the bound (the reaper's query)."""

    @abstractmethod
    def count_ahead(self, job: Job) -> int:
        """Pending jobs queued before this one (its place in line, approximately on AWS)."""

    def purge_expired(self, now: float, limit: int = 1000) -> list[Job]:
        """Delete and return expired records; stores whose backend expires items itself return []."""
        return []

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    def batch(self) -> AbstractContextManager[object]:
        """Group this thread's next calls into one unit of work where the backend can (one SQLite
        transaction for a worker's whole batch); each call stays atomic on its own either way."""
        return nullcontext()

    # Long polls re-read a job after these pauses (seconds), then keep the last one.
    poll_pauses: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 1.0)

    # -- shared logic ------------------------------------------------------------------------
    def get(self, job_id: str, now: float) -> Job | None:
        """The record if it exists and has not expired (backend TTL deletion is lazy)."""
        job = self.load(job_id)
        if job is None or job.is_expired(now):
            return None
        return job

    def move(
        self,
        job_id: str,
        to: JobStatus,
        *,
        expect: Collection[JobStatus],
        now: float,
        expect_updated_at: float | None = None,
        **changes: Any,
    ) -> Job:
        """Compare-and-set a legal transition; illegal ones are a programming error."""
        illegal = [s for s in expect if not s.can_move_to(to) and s != to]
        if illegal:
            raise ValueError(f"illegal transition {illegal} -> {to}")
        return self.update(
            job_id,
            expect=expect,
            changes={"status": to, "updated_at": now, **changes},
            expect_updated_at=expect_updated_at,
        )

    def touch(self, job_ids: Iterable[str], now: float, worker: str) -> dict[str, Job | None]:
        """Heartbeat: bump `updated_at` of jobs this worker still holds.

        Returns each job's record after the attempt, or None where it is gone, so a caller
        learns of cancels and deletes in the same round trip.
        """
        seen: dict[str, Job | None] = {}
        with self.batch():
            for job_id in job_ids:
                try:
                    seen[job_id] = self.update(
                        job_id,
                        expect=(JobStatus.PROCESSING,),
                        changes={"updated_at": now, "worker": worker},
                    )
                except JobConflict as lost:
                    seen[job_id] = lost.current
        return seen


@dataclass(frozen=True)
class Message:
    message_id: str
    body: str
    receipt: str
    receive_count: int


class TaskQueue(ABC):
    """A queue with SQS semantics: visibility timeout, receive count, dead letters."""

    # How often a busy worker looks for more work to fill its next batch (each look is a request).
    prefetch_every: float = 1.0

    @abstractmethod
    def send(self, body: str, delay: float = 0) -> str:
        """Enqueue one message; return its id."""

    @abstractmethod
    def receive(self, max_messages: int, wait_seconds: float, visibility_timeout: float) -> list[Message]:
        """Up to `max_messages`, waiting at most `wait_seconds` for the first."""

    @abstractmethod
    def delete(self, receipts: Sequence[str]) -> None:
        """Acknowledge messages; a stale receipt is ignored."""

    @abstractmethod
    def change_visibility(self, receipts: Sequence[str], seconds: float) -> None:
        """Extend (heartbeat) or end (0: release now) the messages' invisibility."""

    @abstractmethod
    def depth(self) -> int:
        """Messages waiting (approximate on SQS)."""

    @abstractmethod
    def dead_letter_queue(self) -> TaskQueue | None:
        """The queue this one redrives into, if any."""

    @abstractmethod
    def sibling(self, name: str) -> TaskQueue:
        """Another queue of the same backend by name (success/failure queues)."""

    def send_batch(self, bodies: Sequence[str]) -> list[str]:
        return [self.send(body) for body in bodies]

    def dead_letter(self, message: Message) -> None:
        """Move a message to the dead-letter queue now (after the worker gave up on it)."""
        dlq = self.dead_letter_queue()
        if dlq is not None:
            dlq.send(message.body)
        self.delete([message.receipt])

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


class BlobNotFound(KeyError):
    pass


class BlobStore(ABC):
    """Inputs and outputs too large to keep inline in the job record."""

    @abstractmethod
    def put(self, key: str, data: bytes) -> None: ...

    @abstractmethod
    def get(self, key: str) -> bytes:
        """The blob's bytes; `BlobNotFound` if absent."""

    @abstractmethod
    def delete(self, keys: Sequence[str]) -> None:
        """Remove blobs; absent keys are ignored."""

    @abstractmethod
    def presign_get(self, key: str, expires: int) -> str | None:
        """A URL that downloads the blob without credentials, or None (then the API streams it)."""

    @abstractmethod
    def presign_put(self, key: str, expires: int) -> str | None:
        """A URL that uploads the blob with a plain HTTP PUT, or None if unsupported."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
