"""Lambda entry points for operations: the scheduled reaper and the dead-letter-queue consumer.

Both read their config like everything else (MODALKIT_* environment set by the stack) and reuse
one set of backends per Lambda container.
"""

from __future__ import annotations

import time
from functools import cache
from typing import Any

from modalkit.lifecycle import Lifecycle, ReapReport
from modalkit.ports import Message


@cache
def _lifecycle() -> Lifecycle:
    from modalkit import logs
    from modalkit.backends.factory import open_backends
    from modalkit.settings import load_settings

    logs.configure(json_logs=True)
    deployment = load_settings().app_settings.deployment_config
    return Lifecycle(open_backends(deployment), deployment, worker_id="reaper")


def _counts(report: ReapReport) -> dict[str, int]:
    return {
        "requeued": len(report.requeued),
        "failed": len(report.failed),
        "dead_lettered": len(report.dead_lettered),
        "purged": report.purged,
    }


def reaper_handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    """Scheduled: re-enqueue or fail jobs whose worker vanished, and fail dead-lettered ones."""
    return _counts(_lifecycle().reap())


def dead_letter_handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    """SQS event source on the DLQ: mark each dead-lettered job failed with the reason."""
    lifecycle = _lifecycle()
    report = ReapReport()
    for record in event.get("Records", []):
        attributes = record.get("attributes") or {}
        message = Message(
            record["messageId"],
            record["body"],
            record["receiptHandle"],
            int(attributes.get("ApproximateReceiveCount", "1")),
        )
        lifecycle.dead_lettered(message, time.time(), report)
    return _counts(report)


def workers_to_start(backlog: int, active: int, max_workers: int, per_worker: int) -> int:
    """How many drain-then-exit Batch workers to add for this backlog (never past the maximum)."""
    if backlog <= 0:
        return 0
    wanted = min(max_workers, -(-backlog // per_worker))
    return max(0, wanted - active)


_ACTIVE_BATCH_STATES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING")


def batch_trigger_handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    """Scheduled (AWS Batch variant): submit workers while the SQS backlog is not empty."""
    import os

    import boto3

    lifecycle = _lifecycle()
    backlog = lifecycle.queue.depth()
    batch = boto3.client("batch")
    queue = os.environ["MODALKIT_BATCH_JOB_QUEUE"]
    active = 0
    for state in _ACTIVE_BATCH_STATES:
        pages = batch.get_paginator("list_jobs").paginate(jobQueue=queue, jobStatus=state)
        active += sum(len(page.get("jobSummaryList", [])) for page in pages)
    start = workers_to_start(
        backlog,
        active,
        int(os.environ.get("MODALKIT_BATCH_MAX_WORKERS", "1")),
        int(os.environ.get("MODALKIT_BATCH_BACKLOG_PER_WORKER", "8")),
    )
    from modalkit.worker.metrics import emit_gauge

    emit_gauge("ActiveWorkers", active)
    for _ in range(start):
        batch.submit_job(
            jobName="modalkit-worker",
            jobQueue=queue,
            jobDefinition=os.environ["MODALKIT_BATCH_JOB_DEFINITION"],
        )
    return {"backlog": backlog, "active": active, "started": start}
