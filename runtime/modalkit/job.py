"""The job record every adapter stores, and its plain-dict form."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from modalkit.status import JobStatus


@dataclass
class Job:
    job_id: str
    owner: str
    status: JobStatus
    created_at: float
    updated_at: float
    expires_at: float
    model_name: str = ""
    attempts: int = 0
    input: str | None = None
    input_ref: str | None = None
    output: str | None = None
    output_ref: str | None = None
    error: str | None = None
    progress: float | None = None
    progress_message: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    worker: str | None = None
    idempotency_key: str | None = None
    request_hash: str | None = None
    success_queue: str | None = None
    failure_queue: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def is_expired(self, now: float) -> bool:
        return self.expires_at <= now

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["status"] = self.status.value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Job:
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["status"] = JobStatus(values["status"])
        return cls(**values)


JOB_FIELDS = tuple(f.name for f in dataclasses.fields(Job))


def check_fields(changes: Mapping[str, Any]) -> None:
    """Adapters build column and attribute names from these keys: only real fields may pass."""
    unknown = set(changes) - set(JOB_FIELDS)
    if unknown:
        raise ValueError(f"unknown job fields {sorted(unknown)}")
