"""Worker metrics in CloudWatch embedded metric format: one JSON line on stdout per batch.

CloudWatch Logs turns these lines into metrics without an API call; locally nothing is printed.
"""

from __future__ import annotations

import json
import os
import sys
import time

NAMESPACE = "modalkit"


def enabled() -> bool:
    return os.environ.get("MODALKIT_METRICS") == "emf"


def emit_batch_metrics(jobs: int, completed: int, seconds: float, latencies: list[float]) -> None:
    if not enabled():
        return
    service = os.environ.get("MODALKIT_SERVICE", "modalkit")
    record = {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [["Service"]],
                    "Metrics": [
                        {"Name": "JobsCompleted", "Unit": "Count"},
                        {"Name": "JobsFailed", "Unit": "Count"},
                        {"Name": "BatchSeconds", "Unit": "Seconds"},
                        {"Name": "GpuSecondsPerJob", "Unit": "Seconds"},
                        {"Name": "JobLatency", "Unit": "Seconds"},
                    ],
                }
            ],
        },
        "Service": service,
        "JobsCompleted": completed,
        "JobsFailed": jobs - completed,
        "BatchSeconds": seconds,
        "GpuSecondsPerJob": seconds / max(jobs, 1),
        "JobLatency": latencies or [0.0],
    }
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()
