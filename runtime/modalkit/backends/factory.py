"""Choose and build the adapters that config names."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from modalkit.ports import BlobStore, JobStore, TaskQueue
from modalkit.settings import DeploymentConfig


@dataclass
class Backends:
    store: JobStore
    queue: TaskQueue
    blobs: BlobStore

    def close(self) -> None:
        self.store.close()
        self.queue.close()
        self.blobs.close()


LOCAL_QUEUE = "jobs"
LOCAL_DEAD_LETTER_QUEUE = "jobs-dlq"


def open_backends(deployment: DeploymentConfig, *, clock: Callable[[], float] = time.time) -> Backends:
    if deployment.backend == "aws":
        from modalkit.backends.aws import open_aws_backends

        return open_aws_backends(deployment)
    from modalkit.backends.files import FileBlobStore
    from modalkit.backends.sqlite_queue import SqliteQueue
    from modalkit.backends.sqlite_store import SqliteJobStore

    local = deployment.local
    root = Path(local.data_dir)
    return Backends(
        store=SqliteJobStore(root / "jobs.sqlite3", synchronous=local.sqlite_synchronous),
        queue=SqliteQueue(
            root / "queue.sqlite3",
            LOCAL_QUEUE,
            max_receive_count=deployment.max_receive_count,
            dead_letter_name=LOCAL_DEAD_LETTER_QUEUE,
            clock=clock,
            synchronous=local.sqlite_synchronous,
        ),
        blobs=FileBlobStore(root / "blobs", clock=clock),
    )
