"""Batch jobs' state in the store: queued, running (with progress), done (with a summary), failed
(with the reason) or expired (its result removed after the retention period). It survives
restarts; the result files are kept by the service (`matcher.service.batches`).

`batch_holders` indexes which profile ids each kept result names, so an erasure finds the results
to scrub without reading any other.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterable
from typing import Any

from matcher.domain.errors import JobNotFound
from matcher.store.base import ServiceStore, utc_now

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
CREATE TABLE IF NOT EXISTS batch_holders (
    profile_id TEXT NOT NULL,
    job_id TEXT NOT NULL,
    PRIMARY KEY (profile_id, job_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS batch_holders_by_job ON batch_holders(job_id);
"""
ERASED = "[erased]"


class JobStore:
    def __init__(self, store: ServiceStore):
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
        self.store.execute("UPDATE batch_jobs SET status='done', done=total, summary=?, finished_at=? WHERE id=?",
                           (summary, utc_now(), job_id))

    def fail(self, job_id: str, error: str) -> None:
        self.store.execute("UPDATE batch_jobs SET status='failed', error=?, finished_at=? WHERE id=?",
                           (error, utc_now(), job_id))

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
        self.store.execute("DELETE FROM batch_holders WHERE job_id=?", (job_id,))
        self.store.execute("DELETE FROM batch_jobs WHERE id=?", (job_id,))

    # -- which results name whom ----------------------------------------------------------------

    def hold(self, job_id: str, profile_ids: Iterable[str]) -> None:
        """Record that the result of `job_id` names these profiles."""
        self.store.executemany("INSERT INTO batch_holders(profile_id, job_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                               [(pid, job_id) for pid in profile_ids])

    def holding(self, profile_id: str) -> list[str]:
        """The jobs whose kept result names a profile."""
        rows = self.store.query("SELECT job_id FROM batch_holders WHERE profile_id=? ORDER BY job_id", (profile_id,))
        return [str(job_id) for (job_id,) in rows]

    def unindexed(self) -> list[str]:
        """Finished jobs with no recorded holders (kept by a version that did not record them)."""
        rows = self.store.query(
            "SELECT id FROM batch_jobs WHERE status='done' "
            "AND NOT EXISTS (SELECT 1 FROM batch_holders WHERE job_id=batch_jobs.id) ORDER BY id")
        return [str(job_id) for (job_id,) in rows]

    def forget(self, profile_id: str) -> None:
        """Erasure: a profile's id leaves the holders, the jobs' requests (their pools) and errors."""
        self.store.execute("DELETE FROM batch_holders WHERE profile_id=?", (profile_id,))
        named = re.compile(rf"(?<![\w.:-]){re.escape(profile_id)}(?![\w.:-])")
        pattern = "%" + re.sub(r"([\\%_])", r"\\\1", profile_id) + "%"  # LIKE: a prefilter, scrubbed exactly below
        rows = self.store.query(
            "SELECT id, request, coalesce(error, '') FROM batch_jobs "
            "WHERE request LIKE ? ESCAPE '\\' OR error LIKE ? ESCAPE '\\'", (pattern, pattern))
        for job_id, request, error in rows:
            scrubbed = _without_value(json.loads(str(request)), profile_id)
            self.store.execute("UPDATE batch_jobs SET request=?, error=nullif(?, '') WHERE id=?",
                               (json.dumps(scrubbed, sort_keys=True), named.sub(ERASED, str(error)), job_id))

    # -- retention ------------------------------------------------------------------------------

    def finished_before(self, days: float) -> list[str]:
        """Done or failed jobs that finished more than `days` ago."""
        rows = self.store.query(
            "SELECT id FROM batch_jobs WHERE status IN ('done', 'failed') "
            "AND finished_at < ? ORDER BY id", (utc_now(-days * 86400),))
        return [str(job_id) for (job_id,) in rows]

    def expire(self, job_id: str, reason: str) -> None:
        """The job's result is gone: it keeps its row (status 'expired', the reason), not its request."""
        self.store.execute("UPDATE batch_jobs SET status='expired', request='{}', error=? WHERE id=?",
                           (reason, job_id))
        self.store.execute("DELETE FROM batch_holders WHERE job_id=?", (job_id,))

    def statuses(self) -> dict[str, str]:
        """Every job's status by id."""
        return {str(i): str(s) for i, s in self.store.query("SELECT id, status FROM batch_jobs")}


def _without_value(value: Any, gone: str) -> Any:
    """A JSON value with every list entry equal to `gone` dropped (a pool's ids)."""
    if isinstance(value, list):
        return [_without_value(v, gone) for v in value if v != gone]
    if isinstance(value, dict):
        return {k: _without_value(v, gone) for k, v in value.items()}
    return value
