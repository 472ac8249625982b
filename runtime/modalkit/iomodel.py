"""The request and response models a service builds on (the names the seed imports)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, SerializerFunctionWrapHandler, model_serializer


class AsyncInputModel(BaseModel):
    """Base for an async request. The queues, when named, also receive the job's outcome."""

    meta: dict[str, Any] | None = None
    success_queue: str | None = None
    failure_queue: str | None = None


class SyncInputModel(BaseModel):
    """Base for a synchronous request."""

    meta: dict[str, Any] | None = None


class InferenceOutputModel(BaseModel):
    """Base for one inference output; `status`, `error` and `meta` are left out of JSON when unset."""

    status: str | None = None
    error: str | None = None
    meta: dict[str, Any] | None = None

    @model_serializer(mode="wrap")
    def _drop_unset_base_fields(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return {k: v for k, v in data.items() if not (k in _OPTIONAL_BASE and v is None)}


_OPTIONAL_BASE = frozenset({"status", "error", "meta"})


class AsyncOutputModel(BaseModel):
    """Base for an async job's output: the user's fields first, then `status` and `job_id` if set."""

    status: str = "completed"
    job_id: str | None = None

    @model_serializer(mode="wrap")
    def _user_fields_first(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        ordered = {k: v for k, v in data.items() if k not in ("status", "job_id")}
        ordered["status"] = data.get("status")
        if data.get("job_id") is not None:
            ordered["job_id"] = data["job_id"]
        return ordered
