"""Batch jobs' state in the store: queued, running (with progress), done (with a summary) or failed
(with the reason). It survives restarts; the result files are kept by the service
(`matcher.service.batches`)."""

from __future__ import annotations

import json
import secrets
from typing import Any

from matcher.domain.errors import JobNotFound
from matcher.store.sqlite import SqliteStore

__all__ = ["JobStore"]

_DDL = """
CREATE TABLE IF NOT EXISTS batch_jobs (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    done INTEGER NOT NULL DEFAULT 0,
    total INTEGER NOT NULL DEFAULT 0,
    request TEXT NOT NULL,
    summary TEXT,
    error TEXT,
    key_id TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    finished_at TEXT
);
"""


class JobStore:
    def __init__(self, store: SqliteStore):
        self.store = store
        store.ensure_schema(_DDL)

    def create(self, request: dict[str, Any], key_id: str | None = None) -> str:
        job_id = secrets.token_hex(6)
        self.store.execute("INSERT INTO batch_jobs(id, status, request, key_id) VALUES (?, 'queued', ?, ?)",
                           (job_id, json.dumps(request, sort_keys=True), key_id))
        return job_id

    def progress(self, job_id: str, done: int, total: int) -> None:
        self.store.execute("UPDATE batch_jobs SET status='running', done=?, total=? WHERE id=?", (done, total, job_id))

    def finish(self, job_id: str, summary: str) -> None:
        self.store.execute(
            "UPDATE batch_jobs SET status='done', done=total, summary=?, "
            "finished_at=strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id=?", (summary, job_id))

    def fail(self, job_id: str, error: str) -> None:
        self.store.execute(
            "UPDATE batch_jobs SET status='failed', error=?, finished_at=strftime('%Y-%m-%dT%H:%M:%SZ', 'now') "
            "WHERE id=?", (error, job_id))

    def unfinished(self) -> list[str]:
        """Jobs still queued or running."""
        rows = self.store.query("SELECT id FROM batch_jobs WHERE status IN ('queued', 'running')")
        return [str(job_id) for (job_id,) in rows]

    def get(self, job_id: str) -> dict[str, Any]:
        rows = self.store.query(
            "SELECT id, status, done, total, summary, error, created_at, finished_at, key_id FROM batch_jobs "
            "WHERE id=?", (job_id,))
        if not rows:
            raise JobNotFound(job_id)
        i, status, done, total, summary, error, created, finished, key_id = rows[0]
        return {"id": i, "status": status, "progress": {"done": done, "total": total}, "summary": summary,
                "error": error, "created_at": created, "finished_at": finished, "key_id": key_id}

    def delete(self, job_id: str) -> None:
        self.get(job_id)
        self.store.execute("DELETE FROM batch_jobs WHERE id=?", (job_id,))
