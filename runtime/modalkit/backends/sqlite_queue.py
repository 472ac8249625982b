"""A task queue on SQLite with SQS semantics: visibility timeout, receive count, redrive."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from modalkit.backends._sqlite import Database
from modalkit.ports import Message, TaskQueue

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    message_id TEXT NOT NULL,
    body TEXT NOT NULL,
    visible_at REAL NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt TEXT
);
CREATE INDEX IF NOT EXISTS messages_ready ON messages (queue, visible_at);
CREATE INDEX IF NOT EXISTS messages_receipt ON messages (receipt);
"""

# Long polling checks again after these pauses; short at first so a worker sees new work fast.
_POLL_PAUSES = (0.001, 0.002, 0.005, 0.01)


class SqliteQueue(TaskQueue):
    # A look is one local read, so a busy worker can look every few milliseconds.
    prefetch_every = 0.005

    def __init__(
        self,
        path: str | Path | Database,
        name: str,
        *,
        max_receive_count: int | None = None,
        dead_letter_name: str | None = None,
        clock: Callable[[], float] = time.time,
        synchronous: str = "NORMAL",
    ) -> None:
        self.db = (
            path if isinstance(path, Database) else Database(path, synchronous=synchronous, schema=_SCHEMA)
        )
        self.name = name
        self.max_receive_count = max_receive_count
        self.dead_letter_name = dead_letter_name
        self.clock = clock

    def send(self, body: str, delay: float = 0) -> str:
        return self.send_batch([body], delay)[0]

    def send_batch(self, bodies: Sequence[str], delay: float = 0) -> list[str]:
        ids = [uuid.uuid4().hex for _ in bodies]
        visible_at = self.clock() + delay
        with self.db.transaction() as conn:
            conn.executemany(
                "INSERT INTO messages (queue, message_id, body, visible_at) VALUES (?, ?, ?, ?)",
                [(self.name, mid, body, visible_at) for mid, body in zip(ids, bodies, strict=True)],
            )
        return ids

    def receive(self, max_messages: int, wait_seconds: float, visibility_timeout: float) -> list[Message]:
        deadline = time.monotonic() + wait_seconds
        pauses = iter(_POLL_PAUSES)
        while True:
            got = self._receive_now(max_messages, visibility_timeout)
            remaining = deadline - time.monotonic()
            if got or remaining <= 0:
                return got
            time.sleep(min(next(pauses, _POLL_PAUSES[-1]), remaining))

    def _receive_now(self, max_messages: int, visibility_timeout: float) -> list[Message]:
        now = self.clock()
        delivered: list[Message] = []
        # An idle poll only reads, so waiting workers never hold the write lock the API needs.
        with self.db.guard() as conn:
            ready = conn.execute(
                "SELECT 1 FROM messages WHERE queue = ? AND visible_at <= ? LIMIT 1", (self.name, now)
            ).fetchone()
        if ready is None:
            return delivered
        with self.db.transaction() as conn:
            rows = conn.execute(
                "SELECT seq, message_id, body, receive_count FROM messages"
                " WHERE queue = ? AND visible_at <= ? ORDER BY seq LIMIT ?",
                (self.name, now, max_messages),
            ).fetchall()
            for row in rows:
                if self.max_receive_count is not None and row["receive_count"] >= self.max_receive_count:
                    # SQS redrives lazily, on the receive after the last allowed one; so do we.
                    target = self.dead_letter_name
                    if target is None:
                        continue
                    conn.execute(
                        "UPDATE messages SET queue = ?, receive_count = 0, receipt = NULL, visible_at = ?"
                        " WHERE seq = ?",
                        (target, now, row["seq"]),
                    )
                    continue
                receipt = uuid.uuid4().hex
                conn.execute(
                    "UPDATE messages SET visible_at = ?, receive_count = receive_count + 1, receipt = ?"
                    " WHERE seq = ?",
                    (now + visibility_timeout, receipt, row["seq"]),
                )
                delivered.append(
                    Message(row["message_id"], row["body"], receipt, int(row["receive_count"]) + 1)
                )
        return delivered

    def delete(self, receipts: Sequence[str]) -> None:
        if not receipts:
            return
        with self.db.transaction() as conn:
            conn.executemany("DELETE FROM messages WHERE receipt = ?", [(r,) for r in receipts])

    def change_visibility(self, receipts: Sequence[str], seconds: float) -> None:
        if not receipts:
            return
        visible_at = self.clock() + seconds
        with self.db.transaction() as conn:
            conn.executemany(
                "UPDATE messages SET visible_at = ? WHERE receipt = ?", [(visible_at, r) for r in receipts]
            )

    def depth(self) -> int:
        with self.db.guard() as conn:
            row = conn.execute(
                "SELECT COUNT(*) FROM messages WHERE queue = ? AND visible_at <= ?", (self.name, self.clock())
            ).fetchone()
        return int(row[0])

    def dead_letter_queue(self) -> SqliteQueue | None:
        if self.dead_letter_name is None:
            return None
        return SqliteQueue(self.db, self.dead_letter_name, clock=self.clock)

    def sibling(self, name: str) -> SqliteQueue:
        return SqliteQueue(self.db, name, clock=self.clock)

    def close(self) -> None:
        self.db.close()
