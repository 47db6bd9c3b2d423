"""Batch jobs shared by API replicas and workers through PostgreSQL (`matcher worker`).

An API replica enqueues a job: its row (`JobStore`) and its plan, the serialised request. A worker
claims the oldest queued job with `SELECT ... FOR UPDATE SKIP LOCKED` (two workers never take the
same one), marks it running under its name, and holds a session advisory lock on it while it
runs: the lock ends with the worker's connection, so a job whose worker died is told apart from
one still running (`abandoned`) and failed with the reason. The result (`result.json`) is kept in
the database, so every replica serves it, and an erasure rewrites it under its row lock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from matcher.store.postgres import PostgresStore, connect

__all__ = ["JobQueue"]

_LOCK = "SELECT {fn}(hashtext('matcher-job:' || %s))"


class JobQueue:
    def __init__(self, store: PostgresStore):
        self.store = store
        self._claims: Any = None  # the worker's connection holding the locks of the jobs it runs

    def enqueue(self, job_id: str, plan: str) -> None:
        """The job (already created queued) becomes claimable with this plan."""
        self.store.execute("INSERT INTO batch_plans(job_id, plan) VALUES (?, ?)", (job_id, plan))

    def claim(self, worker: str) -> tuple[str, str] | None:
        """The oldest queued job, now running under `worker` and locked by this process: (id, plan)."""
        if self._claims is None or self._claims.closed:
            self._claims = connect(self.store.url)
        db = self._claims
        with db.transaction():
            row = db.execute(
                "SELECT j.id, p.plan FROM batch_jobs j JOIN batch_plans p ON p.job_id = j.id "
                "WHERE j.status = 'queued' ORDER BY j.created_at, j.id FOR UPDATE OF j SKIP LOCKED LIMIT 1").fetchone()
            if row is None:
                return None
            db.execute("UPDATE batch_jobs SET status = 'running', worker = %s WHERE id = %s", (worker, row[0]))
            db.execute(_LOCK.format(fn="pg_advisory_lock"), (row[0],))
        return str(row[0]), str(row[1])

    def release(self, job_id: str) -> None:
        """The job is finished (done or failed): its lock is let go."""
        if self._claims is not None and not self._claims.closed:
            self._claims.execute(_LOCK.format(fn="pg_advisory_unlock"), (job_id,))

    def abandoned(self) -> list[str]:
        """Jobs a worker claimed, marked running, whose worker is gone (no connection holds their
        lock). Jobs no worker claimed (agendas, planned by a replica itself) are not looked at."""
        found = []
        db = self.store.connection()
        rows = db.execute("SELECT id FROM batch_jobs WHERE status = 'running' AND worker IS NOT NULL").fetchall()
        for (job_id,) in rows:
            if db.execute(_LOCK.format(fn="pg_try_advisory_lock"), (job_id,)).fetchone()[0]:
                db.execute(_LOCK.format(fn="pg_advisory_unlock"), (job_id,))
                found.append(str(job_id))
        return found

    def put_result(self, job_id: str, data: bytes) -> int:
        """Keep (or replace) a job's result; its new version."""
        rows = self.store.execute(
            "INSERT INTO batch_results(job_id, version, data) VALUES (?, 1, ?) ON CONFLICT (job_id) DO UPDATE "
            "SET version = batch_results.version + 1, data = EXCLUDED.data RETURNING version", (job_id, data))
        return int(str(rows[0][0]))

    def rewrite_result(self, job_id: str, change: Callable[[bytes], bytes | None]) -> bool:
        """Replace a kept result by `change(result)` under its row lock (None: leave it); whether it did."""
        with self.store.transaction() as db:
            row = db.execute("SELECT data FROM batch_results WHERE job_id = %s FOR UPDATE", (job_id,)).fetchone()
            new = None if row is None else change(bytes(row[0]))
            if new is None:
                return False
            db.execute("UPDATE batch_results SET data = %s, version = version + 1 WHERE job_id = %s", (new, job_id))
        return True

    def get_result(self, job_id: str) -> tuple[int, bytes] | None:
        rows = self.store.query("SELECT version, data FROM batch_results WHERE job_id = ?", (job_id,))
        if not rows:
            return None
        version, data = rows[0]
        return int(str(version)), data if isinstance(data, bytes) else bytes(data)  # type: ignore[call-overload]

    def drop_result(self, job_id: str) -> None:
        self.store.execute("DELETE FROM batch_results WHERE job_id = ?", (job_id,))

    def close(self) -> None:
        if self._claims is not None:
            self._claims.close()
            self._claims = None
