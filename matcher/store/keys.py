"""API keys: random secrets shown once, stored as SHA-256 digests, each with scopes and an owner.

Scopes: `read` (match queries), `agency` (consortia, batches, exports; implies read), `admin`
(profile writes, erasure, key management; implies everything), and `owner` keys bound to one
profile, which may read, replace and erase only that profile (and run match queries).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from matcher.domain.errors import MatcherError
from matcher.store.base import ServiceStore

__all__ = ["SCOPES", "ApiKey", "KeyStore", "grants"]

SCOPES = ("read", "agency", "admin", "owner")
_IMPLIES = {"admin": {"admin", "agency", "read"}, "agency": {"agency", "read"}, "read": {"read"}, "owner": {"read"}}
_DDL = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY,
    digest TEXT NOT NULL UNIQUE,
    scope TEXT NOT NULL,
    owner TEXT,
    label TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    revoked INTEGER NOT NULL DEFAULT 0
);
"""


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    scope: str
    owner: str | None = None
    label: str = ""

    def allows(self, needed: str) -> bool:
        return needed in _IMPLIES.get(self.scope, set())

    def owns(self, profile_id: str) -> bool:
        return self.scope == "owner" and self.owner == profile_id

    def sees_job(self, job: dict[str, object]) -> bool:
        """A job (its row, with the `key_id` that started it) is visible to that key and admin keys."""
        return self.allows("admin") or job.get("key_id") == self.key_id


def grants(key: ApiKey | None, needed: str) -> bool:
    return key is not None and key.allows(needed)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class KeyStore:
    """Keys in the store's SQLite file; the secret itself is never stored."""

    def __init__(self, store: ServiceStore):
        self.store = store
        store.ensure_schema(_DDL)

    def create(self, scope: str, *, owner: str | None = None, label: str = "") -> tuple[ApiKey, str]:
        """A new key and its secret (shown once: only its digest is kept)."""
        if scope not in SCOPES:
            raise MatcherError(f"unknown scope '{scope}'; choose one of {', '.join(SCOPES)}")
        if (scope == "owner") != (owner is not None):
            raise MatcherError("an owner key needs --owner PROFILE_ID, and only owner keys take one")
        if owner is not None and not self.store.exists(owner):
            raise MatcherError(f"no profile with id '{owner}'")
        key_id = secrets.token_hex(4)
        secret = f"mk_{key_id}_{secrets.token_urlsafe(32)}"
        self.store.execute(
            "INSERT INTO api_keys(key_id, digest, scope, owner, label) VALUES (?,?,?,?,?)",
            (key_id, _digest(secret), scope, owner, label),
        )
        return ApiKey(key_id, scope, owner, label), secret

    def verify(self, secret: str | None) -> ApiKey | None:
        """The key a secret belongs to, or None; the digest comparison is constant-time."""
        if not secret or not secret.startswith("mk_") or len(secret) > 200:
            return None
        key_id = secret[3:].split("_", 1)[0]
        rows = self.store.query(
            "SELECT digest, scope, owner, label FROM api_keys WHERE key_id=? AND revoked=0", (key_id,)
        )
        if not rows:
            hmac.compare_digest(_digest(secret), _digest("mk_dummy"))  # same work either way
            return None
        digest, scope, owner, label = rows[0]
        if not hmac.compare_digest(str(digest), _digest(secret)):
            return None
        return ApiKey(key_id, str(scope), owner if owner is None else str(owner), str(label))

    def revoke(self, key_id: str) -> bool:
        before = self.store.execute("SELECT count(*) FROM api_keys WHERE key_id=? AND revoked=0", (key_id,))
        self.store.execute("UPDATE api_keys SET revoked=1 WHERE key_id=?", (key_id,))
        return bool(before[0][0])

    def list(self) -> list[ApiKey]:
        rows = self.store.query(
            "SELECT key_id, scope, owner, label FROM api_keys WHERE revoked=0 ORDER BY created_at"
        )
        return [ApiKey(str(k), str(s), o if o is None else str(o), str(lb)) for k, s, o, lb in rows]

    def revoke_owned_by(self, profile_id: str) -> None:
        """Erasure: a profile's owner keys are revoked and no longer name it (nor keep a label,
        which may)."""
        self.store.execute("UPDATE api_keys SET revoked=1, owner=NULL, label='' WHERE owner=?", (profile_id,))
