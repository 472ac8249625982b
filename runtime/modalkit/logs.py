"""Logging: one JSON object per line on AWS (CloudWatch Insights reads them), plain text locally."""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import Any

_STANDARD = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": round(record.created, 3),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        data.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extra = {k: v for k, v in vars(record).items() if k not in _STANDARD}
        if extra:
            text += "  " + " ".join(f"{k}={v}" for k, v in extra.items())
        return text


def configure(*, json_logs: bool | None = None, level: str | None = None) -> None:
    """Set up the root handler once per process. JSON when asked, or when running on AWS."""
    if json_logs is None:
        json_logs = os.environ.get("MODALKIT_LOG_FORMAT") == "json" or "AWS_EXECUTION_ENV" in os.environ
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_logs else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level or os.environ.get("MODALKIT_LOG_LEVEL", "INFO"))


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)
