"""One error hierarchy. The API maps each family onto one status code (api/errors.py)."""

from __future__ import annotations

from typing import Any


class ModalkitError(Exception):
    """Base of every error modalkit raises on purpose."""

    def __init__(self, message: str, **context: Any) -> None:
        super().__init__(message)
        self.message = message
        self.context = context


class ConfigError(ModalkitError):
    """A config file or variable is wrong; the message names the file and key."""


class JobNotFound(ModalkitError):
    """Unknown, expired, deleted or someone else's job (all look the same to a caller: 404)."""


class JobConflict(ModalkitError):
    """A compare-and-set lost: the job is not in the state the caller needed."""

    def __init__(self, message: str, current: Any = None) -> None:
        super().__init__(message)
        self.current = current


class IdempotencyConflict(ModalkitError):
    """The same Idempotency-Key came with a different body."""


class PayloadTooLarge(ModalkitError):
    """A request or message is over a configured or service limit."""


class BackendUnavailable(ModalkitError):
    """The store, queue or blob store cannot be reached; the caller may retry."""


class AlreadyExists(ModalkitError):
    """A conditional create found the item already there."""


class PipelineLoadError(ModalkitError):
    """A user's service file or pipeline could not be loaded."""


class Unauthorized(ModalkitError):
    """Missing or wrong credentials."""
