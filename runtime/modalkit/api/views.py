"""Response bodies: what a job looks like over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from modalkit.job import Job


class JobAccepted(BaseModel):
    job_id: str
    status: str


class BatchAccepted(BaseModel):
    jobs: list[JobAccepted]


class JobView(BaseModel):
    job_id: str
    status: str
    model_name: str
    attempts: int
    created_at: str
    updated_at: str
    expires_at: str
    started_at: str | None = None
    finished_at: str | None = None
    error: str | None = None
    progress: float | None = None
    progress_message: str | None = None
    queue_position: int | None = None


class UploadTarget(BaseModel):
    upload_id: str
    url: str
    method: str = "PUT"
    expires_in: int


class UploadedInput(BaseModel):
    upload_id: str


class ErrorBody(BaseModel):
    detail: Any
    code: str


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def job_view(job: Job, queue_position: int | None = None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "job_id": job.job_id,
        "status": str(job.status),
        "model_name": job.model_name,
        "attempts": job.attempts,
        "created_at": iso(job.created_at),
        "updated_at": iso(job.updated_at),
        "expires_at": iso(job.expires_at),
    }
    optional = {
        "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at),
        "error": job.error,
        "progress": job.progress,
        "progress_message": job.progress_message,
        "queue_position": queue_position,
    }
    view.update({k: v for k, v in optional.items() if v is not None})
    return view
