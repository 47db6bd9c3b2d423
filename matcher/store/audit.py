"""The audit trail: one row per match, consortium, batch, export and erasure; never the query text.

Rows of frequent, read-only actions (matches, consortia) are queued and written by a background
thread in batches, so a query never waits for the database's write lock (another process may hold
it for a bulk import); actions that change something (erasure, imports, batches, exports) are
written before the call returns. A kill -9 can lose the last fraction of a second of queued rows.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence

from matcher.store.base import ServiceStore, utc_now

__all__ = ["AuditLog"]

log = logging.getLogger("matcher.store.audit")

_DDL = """
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    key_id TEXT,
    scope TEXT,
    action TEXT NOT NULL,
    target TEXT,
    detail TEXT NOT NULL DEFAULT '{}'
);
"""
_INSERT = "INSERT INTO audit(at, key_id, scope, action, target, detail) VALUES (?, ?, ?, ?, ?, ?)"
QUEUED = frozenset({"match", "consortium"})
FLUSH_SECONDS = 0.25


class AuditLog:
    def __init__(self, store: ServiceStore):
        self.store = store
        store.ensure_schema(_DDL)
        self._queue: list[Sequence[object]] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._writer: threading.Thread | None = None

    def record(
        self, action: str, *, key_id: str | None, scope: str | None, target: str | None = None, **detail: object
    ) -> None:
        """`detail` holds counts and flags only (k, has_text, n_results...), never raw text."""
        row = (utc_now(millis=True), key_id, scope, action, target, json.dumps(detail, sort_keys=True))
        if action not in QUEUED:
            self.flush()
            self.store.executemany(_INSERT, [row])
            return
        with self._lock:
            self._queue.append(row)
            if self._writer is None:
                self._writer = threading.Thread(target=self._write_loop, name="audit-writer", daemon=True)
                self._writer.start()

    def _write_loop(self) -> None:
        while True:
            self._wake.wait(FLUSH_SECONDS)
            self._wake.clear()
            try:
                self.flush()
            except Exception as err:  # the rows stay queued; the next round retries
                log.warning("writing audit rows failed (%s); retrying", err)

    def flush(self) -> None:
        """Write every queued row now."""
        with self._lock:
            rows, self._queue = self._queue, []
        if not rows:
            return
        try:
            self.store.executemany(_INSERT, rows)
        except BaseException:
            with self._lock:
                self._queue[:0] = rows
            raise

    def rows(self, limit: int = 100) -> list[dict[str, object]]:
        self.flush()
        rows = self.store.query(
            "SELECT at, key_id, scope, action, target, detail FROM audit ORDER BY id DESC LIMIT ?", (limit,)
        )
        return [
            {"at": a, "key_id": k, "scope": s, "action": act, "target": t, "detail": json.loads(str(d))}
            for a, k, s, act, t, d in rows
        ]

    def forget(self, profile_id: str) -> None:
        """Erasure: the profile's id no longer appears as an audit target."""
        self.flush()
        self.store.execute("UPDATE audit SET target='[erased]' WHERE target=?", (profile_id,))
