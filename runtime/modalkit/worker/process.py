"""The supervisor's handle on its child: start (spawn), talk, and kill."""

from __future__ import annotations

import multiprocessing
import signal
import time
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from modalkit.worker import child
from modalkit.worker.events import DownEvent, LoadFailed, Ready, Stop, UpEvent


class ChildDied(Exception):
    def __init__(self, exitcode: int | None) -> None:
        super().__init__(describe_exit(exitcode))
        self.exitcode = exitcode


def describe_exit(exitcode: int | None) -> str:
    if exitcode is None:
        return "the worker process stopped answering"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        hint = " (out of memory?)" if name == "SIGKILL" else ""
        return f"the worker process was killed by {name}{hint}"
    return f"the worker process exited with code {exitcode}"


class ChildProcess:
    def __init__(self, service_path: str) -> None:
        self.service_path = service_path
        self.proc: BaseProcess | None = None
        self.conn: Connection | None = None
        self.ready = False
        self.load_error: str | None = None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.is_alive()

    def start(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        parent, kid = ctx.Pipe()
        self.proc = ctx.Process(
            target=child.main, args=(kid, self.service_path), name="modalkit-pipeline", daemon=True
        )
        self.proc.start()
        kid.close()
        self.conn = parent
        self.ready = False
        self.load_error = None

    def wait_ready(self, timeout: float) -> str | None:
        """Block until the pipeline has loaded. Returns None, or why it could not load."""
        if self.ready:
            return None
        if self.proc is None:
            self.start()
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                return f"pipeline failed to load: not ready within {timeout:g} s"
            try:
                event = self.poll(min(remaining, 0.5))
            except ChildDied as died:
                return f"pipeline failed to load: {died}"
            if isinstance(event, Ready):
                self.ready = True
                return None
            if isinstance(event, LoadFailed):
                self.load_error = event.error
                self.kill()
                return event.error

    def send(self, event: DownEvent) -> None:
        assert self.conn is not None
        self.conn.send(event)

    def poll(self, timeout: float) -> UpEvent | None:
        """The next event within `timeout`, or None; `ChildDied` if the child is gone."""
        assert self.conn is not None and self.proc is not None
        try:
            if self.conn.poll(timeout):
                event: UpEvent = self.conn.recv()
                return event
        except (EOFError, OSError):
            pass
        else:
            if self.proc.is_alive():
                return None
        self.proc.join(1)
        raise ChildDied(self.proc.exitcode)

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.join(5)
        self._forget()

    def stop(self, timeout: float = 5) -> None:
        if self.proc is not None and self.proc.is_alive():
            try:
                self.send(Stop())
            except (OSError, ValueError):
                pass
            self.proc.join(timeout)
        self.kill()

    def _forget(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.proc = None
        self.conn = None
        self.ready = False
