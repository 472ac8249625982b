"""Metrics in CloudWatch embedded metric format: one JSON line on stdout per record.

CloudWatch Logs turns these lines into metrics without an API call; locally nothing is printed.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

NAMESPACE = "modalkit"


def enabled() -> bool:
    return os.environ.get("MODALKIT_METRICS") == "emf"


def _emit(units: dict[str, str], values: dict[str, Any]) -> None:
    record = {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [["Service"]],
                    "Metrics": [{"Name": name, "Unit": unit} for name, unit in units.items()],
                }
            ],
        },
        "Service": os.environ.get("MODALKIT_SERVICE", "modalkit"),
        **values,
    }
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


def emit_gauge(name: str, value: float, unit: str = "Count") -> None:
    """One value of one metric (the Batch trigger reports its active workers this way)."""
    if enabled():
        _emit({name: unit}, {name: value})


def emit_batch_metrics(jobs: int, completed: int, seconds: float, latencies: list[float]) -> None:
    if not enabled():
        return
    _emit(
        {
            "JobsCompleted": "Count",
            "JobsFailed": "Count",
            "BatchSeconds": "Seconds",
            "GpuSecondsPerJob": "Seconds",
            "JobLatency": "Seconds",
        },
        {
            "JobsCompleted": completed,
            "JobsFailed": jobs - completed,
            "BatchSeconds": seconds,
            "GpuSecondsPerJob": seconds / max(jobs, 1),
            "JobLatency": latencies or [0.0],
        },
    )
