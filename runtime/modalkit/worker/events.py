"""The supervisor <-> child protocol, all of it. Exactly one `BatchDone` answers each `RunBatch`."""

from __future__ import annotations

from dataclasses import dataclass


# -- down: supervisor -> child -------------------------------------------------------------------
@dataclass(frozen=True)
class Item:
    job_id: str
    model_name: str
    payload: str


@dataclass(frozen=True)
class RunBatch:
    batch_id: int
    items: tuple[Item, ...]


@dataclass(frozen=True)
class Cancel:
    job_ids: tuple[str, ...]


@dataclass(frozen=True)
class Stop:
    pass


# -- up: child -> supervisor ---------------------------------------------------------------------
@dataclass(frozen=True)
class Ready:
    pass


@dataclass(frozen=True)
class LoadFailed:
    error: str


@dataclass(frozen=True)
class Progress:
    batch_id: int
    fraction: float | None
    message: str | None


@dataclass(frozen=True)
class Outcome:
    job_id: str
    output: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class BatchDone:
    batch_id: int
    outcomes: tuple[Outcome, ...]


DownEvent = RunBatch | Cancel | Stop
UpEvent = Ready | LoadFailed | Progress | BatchDone
