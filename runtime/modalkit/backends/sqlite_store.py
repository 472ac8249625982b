"""Job store on a local SQLite file (WAL). Conditional UPDATEs give compare-and-set."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from modalkit.backends._sqlite import Database
from modalkit.errors import AlreadyExists, JobConflict
from modalkit.job import JOB_FIELDS, Job, check_fields
from modalkit.ports import JobStore, KeyBinding
from modalkit.status import JobStatus

_COLUMNS = ", ".join(f"{name}" for name in JOB_FIELDS)
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS jobs (
    {", ".join(f"{name} {'TEXT PRIMARY KEY' if name == 'job_id' else ''}" for name in JOB_FIELDS)}
);
CREATE INDEX IF NOT EXISTS jobs_status_updated ON jobs (status, updated_at);
CREATE INDEX IF NOT EXISTS jobs_status_created ON jobs (status, created_at);
CREATE INDEX IF NOT EXISTS jobs_expires ON jobs (expires_at);
CREATE TABLE IF NOT EXISTS idempotency (
    key TEXT PRIMARY KEY,
    request_hash TEXT NOT NULL,
    job_id TEXT NOT NULL,
    expires_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS idempotency_job ON idempotency (job_id);
"""


def _encode(name: str, value: Any) -> Any:
    if name == "extra":
        return json.dumps(value) if value else None
    if name == "status":
        return str(value)
    return value


def _row_to_job(row: sqlite3.Row) -> Job:
    data = dict(row)
    data["extra"] = json.loads(data["extra"]) if data.get("extra") else {}
    return Job.from_dict(data)


class SqliteJobStore(JobStore):
    # Reads are local and cheap: a long poll can look often.
    poll_pauses = (0.002, 0.005, 0.01, 0.02)

    def __init__(self, path: str | Path, *, synchronous: str = "NORMAL") -> None:
        self.db = Database(path, synchronous=synchronous, schema=_SCHEMA)

    def batch(self) -> AbstractContextManager[object]:
        return self.db.transaction()

    def create(self, job: Job) -> None:
        values = [_encode(name, getattr(job, name)) for name in JOB_FIELDS]
        marks = ", ".join("?" for _ in JOB_FIELDS)
        with self.db.guard() as conn:
            try:
                conn.execute(f"INSERT INTO jobs ({_COLUMNS}) VALUES ({marks})", values)
            except sqlite3.IntegrityError:
                raise AlreadyExists(f"job {job.job_id} already exists") from None

    def load(self, job_id: str) -> Job | None:
        with self.db.guard() as conn:
            row = conn.execute("SELECT * FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        return _row_to_job(row) if row else None

    def update(
        self,
        job_id: str,
        *,
        expect: Collection[JobStatus],
        changes: Mapping[str, Any],
        expect_updated_at: float | None = None,
    ) -> Job:
        check_fields(changes)
        sets = ", ".join(f"{name} = ?" for name in changes)
        params: list[Any] = [_encode(name, value) for name, value in changes.items()]
        where = f"job_id = ? AND status IN ({', '.join('?' for _ in expect)})"
        params += [job_id, *(str(s) for s in expect)]
        if expect_updated_at is not None:
            where += " AND updated_at = ?"
            params.append(expect_updated_at)
        with self.db.guard() as conn:
            row = conn.execute(f"UPDATE jobs SET {sets} WHERE {where} RETURNING *", params).fetchone()
        if row is None:
            current = self.load(job_id)
            raise JobConflict(
                f"job {job_id} is {current.status if current else 'gone'}, not {'/'.join(expect)}",
                current=current,
            )
        return _row_to_job(row)

    def delete(self, job_id: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM jobs WHERE job_id = ?", (job_id,))
            conn.execute("DELETE FROM idempotency WHERE job_id = ?", (job_id,))

    def claim_key(
        self, key: str, request_hash: str, job_id: str, expires_at: float, now: float
    ) -> KeyBinding | None:
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT request_hash, job_id FROM idempotency WHERE key = ? AND expires_at > ?", (key, now)
            ).fetchone()
            if row is not None:
                return KeyBinding(job_id=row["job_id"], request_hash=row["request_hash"])
            conn.execute(
                "INSERT OR REPLACE INTO idempotency (key, request_hash, job_id, expires_at)"
                " VALUES (?, ?, ?, ?)",
                (key, request_hash, job_id, expires_at),
            )
        return None

    def find(self, status: JobStatus, updated_before: float, limit: int = 100) -> list[Job]:
        with self.db.guard() as conn:
            rows = conn.execute(
                "SELECT * FROM jobs WHERE status = ? AND updated_at < ? ORDER BY updated_at LIMIT ?",
                (str(status), updated_before, limit),
            ).fetchall()
        return [_row_to_job(row) for row in rows]

    def count_ahead(self, job: Job) -> int:
        with self.db.guard() as conn:
            row = conn.execute(
                "SELECT COUNT(*) FROM jobs WHERE status = 'pending' AND created_at < ?", (job.created_at,)
            ).fetchone()
        return int(row[0])

    def purge_expired(self, now: float, limit: int = 1000) -> list[Job]:
        with self.db.transaction() as conn:
            rows = conn.execute(
                "DELETE FROM jobs WHERE job_id IN (SELECT job_id FROM jobs WHERE expires_at <= ? LIMIT ?)"
                " RETURNING *",
                (now, limit),
            ).fetchall()
            conn.execute("DELETE FROM idempotency WHERE expires_at <= ?", (now,))
        return [_row_to_job(row) for row in rows]

    def close(self) -> None:
        self.db.close()
