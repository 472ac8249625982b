"""The child process: loads the pipeline once, then runs one batch at a time.

A reader thread takes `Cancel` and `Stop` while the main thread is deep in user code, so the
pipeline can see `self.cancelled()` without any help from the code it is running.
"""

from __future__ import annotations

import queue
import threading
import traceback
from collections import defaultdict
from multiprocessing.connection import Connection
from typing import Any

from pydantic import BaseModel, ValidationError

from modalkit.inference import InferencePipeline, JobCancelled, dump_output
from modalkit.worker.events import (
    BatchDone,
    Cancel,
    DownEvent,
    Item,
    LoadFailed,
    Outcome,
    Progress,
    Ready,
    RunBatch,
    Stop,
)


class _Link:
    """The child's end of the pipe; sends are locked because pipeline threads may report progress."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.lock = threading.Lock()
        self.cancelled: set[str] = set()

    def send(self, event: object) -> None:
        with self.lock:
            self.conn.send(event)


class _BatchContext:
    def __init__(self, link: _Link, batch_id: int, job_ids: list[str]) -> None:
        self.link = link
        self.batch_id = batch_id
        self.job_ids = job_ids

    def cancelled(self) -> bool:
        return all(job_id in self.link.cancelled for job_id in self.job_ids)

    def report(self, fraction: float | None, message: str | None) -> None:
        if fraction is not None:
            fraction = min(1.0, max(0.0, float(fraction)))
        self.link.send(Progress(self.batch_id, fraction, None if message is None else str(message)[:500]))


def main(conn: Connection, service_path: str) -> None:
    """Entry point of the spawned child."""
    from modalkit import logs
    from modalkit.loader import load_service

    logs.configure()
    link = _Link(conn)
    try:
        spec = load_service(service_path).spec
        service = spec.service_cls()
        pipelines: dict[str, InferencePipeline] = {service.model_name: service.load_pipeline()}
    except BaseException as exc:
        link.send(LoadFailed(f"pipeline failed to load: {type(exc).__name__}: {exc}"))
        return
    link.send(Ready())

    inbox: queue.Queue[RunBatch | None] = queue.Queue()
    threading.Thread(target=_read, args=(link, inbox), daemon=True, name="modalkit-child-reader").start()
    while True:
        batch = inbox.get()
        if batch is None:
            return
        link.cancelled.intersection_update(item.job_id for item in batch.items)
        outcomes = _run(batch, spec.input_model, service, pipelines, link)
        link.send(BatchDone(batch.batch_id, tuple(outcomes)))


def _read(link: _Link, inbox: queue.Queue[RunBatch | None]) -> None:
    while True:
        try:
            event: DownEvent = link.conn.recv()
        except (EOFError, OSError):
            inbox.put(None)
            return
        if isinstance(event, RunBatch):
            inbox.put(event)
        elif isinstance(event, Cancel):
            link.cancelled.update(event.job_ids)
        elif isinstance(event, Stop):
            inbox.put(None)
            return


def _run(
    batch: RunBatch,
    input_model: type[BaseModel],
    service: Any,
    pipelines: dict[str, InferencePipeline],
    link: _Link,
) -> list[Outcome]:
    results: dict[str, Outcome] = {}
    groups: dict[str, list[tuple[Item, BaseModel]]] = defaultdict(list)
    for item in batch.items:
        try:
            groups[item.model_name or service.model_name].append(
                (item, input_model.model_validate_json(item.payload))
            )
        except ValidationError as exc:
            results[item.job_id] = Outcome(item.job_id, error=f"invalid input: {_summary(exc)}")
    for model_name, members in groups.items():
        ids = [item.job_id for item, _ in members]
        try:
            pipeline = pipelines.get(model_name)
            if pipeline is None:
                pipeline = pipelines[model_name] = service.load_pipeline(model_name)
            pipeline.bind(_BatchContext(link, batch.batch_id, ids))
            outputs = pipeline.run_inference([model for _, model in members])
            for job_id, output in zip(ids, outputs, strict=True):
                results[job_id] = Outcome(job_id, output=dump_output(output))
        except JobCancelled:
            results.update({job_id: Outcome(job_id, error="cancelled") for job_id in ids})
        except Exception as exc:
            message = _describe(exc)
            results.update({job_id: Outcome(job_id, error=message) for job_id in ids})
    return [results[item.job_id] for item in batch.items]


def _describe(exc: BaseException) -> str:
    """The exception's type and message (the API shows this; the traceback goes to the log)."""
    traceback.print_exception(exc)
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _summary(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
