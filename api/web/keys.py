"""Keys by id for the pages: sessions hold a key's id, never its secret."""

from __future__ import annotations

import math
import threading
import time

from matcher.store.keys import ApiKey, KeyStore

__all__ = ["KeyLookup"]


class KeyLookup:
    """Active keys by id, from the key store, read again at most every `ttl_s` seconds: a revoked
    key (or the owner key of an erased profile) stops working within that time. The key store
    looks keys up by their secret, which sessions do not hold, so this reads the list of keys."""

    def __init__(self, keys: KeyStore, ttl_s: float = 1.0):
        self._keys = keys
        self._ttl_s = ttl_s
        self._by_id: dict[str, ApiKey] = {}
        self._read_at = -math.inf
        self._lock = threading.Lock()

    def get(self, key_id: str) -> ApiKey | None:
        """The active key with this id. A key not in the list read last is looked for again at
        once (one made since): only sessions signed by this server name a key, and a session whose
        key is gone is ended on the spot, so misses stay rare."""
        with self._lock:
            if time.monotonic() - self._read_at > self._ttl_s or key_id not in self._by_id:
                self._by_id = {k.key_id: k for k in self._keys.list()}
                self._read_at = time.monotonic()
            return self._by_id.get(key_id)

    def forget(self) -> None:
        """Read the keys again at the next look-up (after this process revoked one)."""
        with self._lock:
            self._read_at = -math.inf
