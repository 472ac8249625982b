"""One SQLite database file shared by threads and processes: WAL, a connection per thread."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from modalkit.errors import BackendUnavailable


class Database:
    def __init__(self, path: str | Path, *, synchronous: str = "NORMAL", schema: str = "") -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._synchronous = synchronous
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        if schema:
            with self.guard() as conn:
                conn.executescript(schema)

    def connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.path, isolation_level=None, timeout=30, check_same_thread=False)
                conn.row_factory = sqlite3.Row
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute(f"PRAGMA synchronous={self._synchronous}")
                conn.execute("PRAGMA busy_timeout=30000")
            except sqlite3.Error as exc:
                raise BackendUnavailable(f"cannot open {self.path}: {exc}") from exc
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT: the write lock is taken up front, so no upgrade deadlocks.

        Inside an open transaction (a caller's `batch`), it simply joins it.
        """
        conn = self.connection()
        if conn.in_transaction:
            yield conn
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise BackendUnavailable(f"{self.path} is unavailable: {exc}") from exc
        try:
            yield conn
        except sqlite3.OperationalError as exc:
            conn.execute("ROLLBACK")
            raise BackendUnavailable(f"{self.path}: {exc}") from exc
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise BackendUnavailable(f"{self.path}: commit failed: {exc}") from exc

    @contextmanager
    def guard(self) -> Iterator[sqlite3.Connection]:
        """A single statement outside a transaction, with errors mapped to `BackendUnavailable`."""
        conn = self.connection()
        try:
            yield conn
        except sqlite3.OperationalError as exc:
            raise BackendUnavailable(f"{self.path}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()
