"""The audit trail: one row per match, consortium, batch, export and erasure; never the query text."""

from __future__ import annotations

import json

from matcher.store import Store

__all__ = ["AuditLog"]

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


class AuditLog:
    def __init__(self, store: Store):
        self.store = store
        store.ensure_schema(_DDL)

    def record(
        self, action: str, *, key_id: str | None, scope: str | None, target: str | None = None, **detail: object
    ) -> None:
        """`detail` holds counts and flags only (k, has_text, n_results...), never raw text."""
        self.store.execute(
            "INSERT INTO audit(key_id, scope, action, target, detail) VALUES (?,?,?,?,?)",
            (key_id, scope, action, target, json.dumps(detail, sort_keys=True)),
        )

    def rows(self, limit: int = 100) -> list[dict[str, object]]:
        rows = self.store.execute(
            "SELECT at, key_id, scope, action, target, detail FROM audit ORDER BY id DESC LIMIT ?", (limit,)
        )
        return [
            {"at": a, "key_id": k, "scope": s, "action": act, "target": t, "detail": json.loads(str(d))}
            for a, k, s, act, t, d in rows
        ]

    def forget(self, profile_id: str) -> None:
        """Erasure: the profile's id no longer appears as an audit target."""
        self.store.execute("UPDATE audit SET target='[erased]' WHERE target=?", (profile_id,))
