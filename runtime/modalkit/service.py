"""The job service: submit, status, result, cancel and delete, on the three ports.

The HTTP API calls only this; it never touches a store, queue or blob directly.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from modalkit.backends.factory import Backends
from modalkit.errors import AlreadyExists, IdempotencyConflict, JobConflict, JobNotFound
from modalkit.job import Job
from modalkit.logs import get_logger
from modalkit.ports import BlobNotFound
from modalkit.settings import DeploymentConfig
from modalkit.status import ACTIVE, TERMINAL, JobStatus

log = get_logger(__name__)


Call = Callable[..., Awaitable[Any]]


async def inline(fn: Callable[..., Any], *args: Any) -> Any:
    """Run a store call on the event loop itself (cheap local calls: no thread hop)."""
    return fn(*args)


def new_job_id() -> str:
    return uuid.uuid4().hex


def encode_message(job: Job) -> str:
    return json.dumps({"job_id": job.job_id, "model_name": job.model_name}, separators=(",", ":"))


def decode_message(body: str) -> tuple[str, str]:
    data = json.loads(body)
    return str(data["job_id"]), str(data.get("model_name", ""))


def input_key(job_id: str) -> str:
    return f"inputs/{job_id}.json"


def upload_key(owner: str, upload_id: str) -> str:
    return f"uploads/{owner}/{upload_id}"


@dataclass(frozen=True)
class Submission:
    """One validated request, ready to become a job."""

    payload: str
    model_name: str
    success_queue: str | None = None
    failure_queue: str | None = None
    input_ref: str | None = None


@dataclass(frozen=True)
class Output:
    """A completed job's output: inline JSON bytes, or a URL to fetch it from."""

    body: bytes | None = None
    url: str | None = None


class JobService:
    def __init__(
        self,
        backends: Backends,
        deployment: DeploymentConfig,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.backends = backends
        self.store = backends.store
        self.queue = backends.queue
        self.blobs = backends.blobs
        self.deployment = deployment
        self.clock = clock

    # -- submit ------------------------------------------------------------------------------
    def submit(self, owner: str, item: Submission, idempotency_key: str | None = None) -> tuple[Job, bool]:
        """Create and enqueue a job. Returns (job, created); a replayed key returns the first job."""
        jobs = self._create([item], owner, idempotency_key)
        return jobs[0]

    def submit_batch(
        self, owner: str, items: Sequence[Submission], idempotency_key: str | None = None
    ) -> list[tuple[Job, bool]]:
        return self._create(items, owner, idempotency_key)

    def _create(
        self, items: Sequence[Submission], owner: str, idempotency_key: str | None
    ) -> list[tuple[Job, bool]]:
        now = self.clock()
        ttl = self.deployment.async_result_ttl
        results: list[tuple[Job, bool]] = []
        for index, item in enumerate(items):
            job_id = new_job_id()
            request_hash = _hash(item.model_name, item.payload, item.input_ref)
            key = None
            if idempotency_key is not None:
                key = _scoped_key(owner, idempotency_key, index if len(items) > 1 else None)
                binding = self.store.claim_key(key, request_hash, job_id, now + ttl, now)
                if binding is not None:
                    if binding.request_hash != request_hash:
                        raise IdempotencyConflict(
                            "this Idempotency-Key was already used with a different request body;"
                            " use a new key for a new request"
                        )
                    existing = self.store.get(binding.job_id, now)
                    if existing is not None:
                        results.append((existing, False))
                        continue
                    # The key survived a crash that lost its job: finish creating that job.
                    job_id = binding.job_id
            job = Job(
                job_id=job_id,
                owner=owner,
                status=JobStatus.PENDING,
                created_at=now,
                updated_at=now,
                expires_at=now + ttl,
                model_name=item.model_name,
                input=item.payload if item.input_ref is None else None,
                input_ref=item.input_ref,
                idempotency_key=key,
                request_hash=request_hash,
                success_queue=item.success_queue,
                failure_queue=item.failure_queue,
            )
            if job.input is not None and len(job.input) > self.deployment.inline_limit:
                self.blobs.put(input_key(job_id), job.input.encode())
                job.input, job.input_ref = None, input_key(job_id)
            try:
                self.store.create(job)
            except AlreadyExists:
                existing = self.store.get(job_id, now)
                if existing is None:
                    raise
                results.append((existing, False))
                continue
            results.append((job, True))
        fresh = [job for job, created in results if created]
        if fresh:
            try:
                self.queue.send_batch([encode_message(job) for job in fresh])
            except Exception:
                # The jobs are stored: the reaper re-enqueues pending jobs that have no message.
                log.exception("enqueue failed; the reaper will re-enqueue", extra={"jobs": len(fresh)})
        return results

    # -- read --------------------------------------------------------------------------------
    def get(self, owner: str, job_id: str) -> Job:
        job = self.store.load(job_id)
        if job is None or job.owner != owner:
            raise JobNotFound(f"job {job_id} not found (unknown, deleted or not yours)", job_id=job_id)
        if job.is_expired(self.clock()):
            raise JobNotFound(
                f"job {job_id} has expired: jobs and results are kept for"
                f" {self.deployment.async_result_ttl} s (async_result_ttl)",
                job_id=job_id,
            )
        return job

    def queue_position(self, job: Job) -> int | None:
        """Jobs ahead of a pending job, or None once it has left the queue."""
        if job.status is not JobStatus.PENDING:
            return None
        return self.store.count_ahead(job)

    async def wait(self, owner: str, job_id: str, timeout: float, call: Call = inline) -> Job:
        """The job once terminal, or as it stands when `timeout` runs out (long polling).

        `call` runs each store read: inline for a local file, in a thread for a network backend.
        The pauses between reads come from the store (short for SQLite, longer for DynamoDB).
        """
        deadline = time.monotonic() + max(0.0, timeout)
        schedule = self.store.poll_pauses
        pauses = iter(schedule)
        while True:
            job: Job = await call(self.get, owner, job_id)
            remaining = deadline - time.monotonic()
            if job.status in TERMINAL or remaining <= 0:
                return job
            await asyncio.sleep(min(next(pauses, schedule[-1]), remaining))

    def output(self, job: Job) -> Output:
        """The output of a completed job: inline bytes, or a presigned URL when the store gives one."""
        if job.output is not None:
            return Output(body=job.output.encode())
        if job.output_ref is None:
            raise JobNotFound(f"job {job.job_id} has no stored output", job_id=job.job_id)
        url = None
        if self.deployment.aws.result_delivery == "presign":
            url = self.blobs.presign_get(job.output_ref, self.deployment.aws.presign_expiry)
        if url is not None:
            return Output(url=url)
        try:
            return Output(body=self.blobs.get(job.output_ref))
        except BlobNotFound:
            raise JobNotFound(f"the output of job {job.job_id} has expired", job_id=job.job_id) from None

    # -- change ------------------------------------------------------------------------------
    def cancel(self, owner: str, job_id: str) -> Job:
        job = self.get(owner, job_id)
        if job.status in TERMINAL:
            raise JobConflict(f"job {job_id} is already {job.status}; only active jobs can be cancelled", job)
        now = self.clock()
        try:
            return self.store.move(
                job_id,
                JobStatus.CANCELLED,
                expect=ACTIVE,
                now=now,
                finished_at=now,
                error="cancelled by request",
            )
        except JobConflict as lost:
            state = lost.current.status if lost.current else "gone"
            raise JobConflict(
                f"job {job_id} is already {state}; only active jobs can be cancelled", lost.current
            ) from None

    def delete(self, owner: str, job_id: str) -> None:
        job = self.get(owner, job_id)
        if job.status in ACTIVE:
            # Stop a worker from spending more time on it; its late result is then discarded.
            try:
                self.store.move(job_id, JobStatus.CANCELLED, expect=ACTIVE, now=self.clock())
            except JobConflict:
                pass
        self.store.delete(job_id)
        self.blobs.delete([ref for ref in (job.input_ref, job.output_ref) if ref])

    def upload_target(self, owner: str) -> tuple[str, str]:
        """A fresh upload id and a presigned PUT URL for it."""
        upload_id = new_job_id()
        url = self.blobs.presign_put(upload_key(owner, upload_id), self.deployment.aws.presign_expiry)
        if url is None:
            raise JobConflict("this backend does not accept uploads")
        return upload_id, url

    def uploaded_ref(self, owner: str, upload_id: str) -> str:
        if not upload_id.isalnum():
            raise JobNotFound(f"upload {upload_id} not found")
        return upload_key(owner, upload_id)


def _hash(model_name: str, payload: str, input_ref: str | None) -> str:
    digest = hashlib.sha256()
    for part in (model_name, payload, input_ref or ""):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def _scoped_key(owner: str, key: str, index: int | None) -> str:
    scoped = f"{owner}\0{key}" if index is None else f"{owner}\0{key}\0{index}"
    return hashlib.sha256(scoped.encode()).hexdigest()
