"""Per-key token buckets kept in PostgreSQL, so a rate limit holds across every API replica.

One statement per request (an upsert with RETURNING, on the calling thread's own autocommit
connection): the bucket is refilled for the time since its last use, a token taken when there is
one, and the answer says whether it was. The clock is the database's, the same for every replica.
"""

from __future__ import annotations

from matcher.store.postgres import PostgresStore

__all__ = ["SharedBuckets"]

_REFILLED = "least(%(capacity)s, b.tokens + extract(epoch FROM statement_timestamp() - b.at)::float8 * %(rate)s)"
_TAKE = f"""
INSERT INTO rate_buckets AS b (key_id, tokens, at, granted)
VALUES (%(key)s, %(capacity)s - 1, statement_timestamp(), true)
ON CONFLICT (key_id) DO UPDATE SET
    granted = {_REFILLED} >= 1,
    tokens = {_REFILLED} - CASE WHEN {_REFILLED} >= 1 THEN 1 ELSE 0 END,
    at = statement_timestamp()
RETURNING granted, tokens
"""
_CHARGE = f"""
UPDATE rate_buckets AS b SET tokens = {_REFILLED} - %(extra)s, at = statement_timestamp() WHERE key_id = %(key)s
"""


class SharedBuckets:
    """Token buckets (`rate` tokens a second, up to `capacity`) in the PostgreSQL store."""

    def __init__(self, store: PostgresStore):
        self.store = store

    def take(self, key_id: str, rate: float, capacity: float) -> float:
        """0 if a token was taken (the request may go), else the seconds until one is there."""
        params = {"key": key_id, "rate": rate, "capacity": capacity}
        granted, tokens = self.store.connection().execute(_TAKE, params).fetchone()
        return 0.0 if granted else (1 - float(tokens)) / rate

    def charge(self, key_id: str, extra: float, rate: float, capacity: float) -> None:
        """Take `extra` more tokens (the bucket may go below zero: the debt is paid by waiting)."""
        params = {"key": key_id, "rate": rate, "capacity": capacity, "extra": extra}
        self.store.connection().execute(_CHARGE, params)
