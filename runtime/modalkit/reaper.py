"""The reaper, run on a timer: in a thread of `modalkit serve`, or as a scheduled Lambda on AWS."""

from __future__ import annotations

import threading

from modalkit.lifecycle import Lifecycle, ReapReport
from modalkit.logs import get_logger

log = get_logger(__name__)


def reap_once(lifecycle: Lifecycle) -> ReapReport:
    report = lifecycle.reap()
    if report.requeued or report.failed or report.dead_lettered:
        log.warning(
            "reaper acted",
            extra={
                "requeued": len(report.requeued),
                "failed": len(report.failed),
                "dead_lettered": len(report.dead_lettered),
            },
        )
    return report


class ReaperThread(threading.Thread):
    def __init__(self, lifecycle: Lifecycle, interval: float) -> None:
        super().__init__(name="modalkit-reaper", daemon=True)
        self.lifecycle = lifecycle
        self.interval = interval
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                reap_once(self.lifecycle)
            except Exception:
                log.exception("reaper pass failed; trying again next interval")

    def stop(self) -> None:
        self.stopped.set()
