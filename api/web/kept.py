"""Answers kept in memory for a while, for their downloads: a consortium's teams (CSV, XLSX and
JSON without solving again) and an upload's rejected records (shown on its job's page).

Each belongs to the key that asked for it and nobody else; they expire after `ttl_s` and a key
keeps at most `per_key` of them. They are gone after a restart: the page then says to ask again.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from typing import Any

__all__ = ["Kept"]


class Kept:
    def __init__(self, ttl_s: float = 3600.0, per_key: int = 20):
        self.ttl_s = ttl_s
        self.per_key = per_key
        self._items: dict[str, OrderedDict[str, tuple[float, Any]]] = {}
        self._lock = threading.Lock()

    def put(self, key_id: str, value: Any, name: str | None = None) -> str:
        """Keep `value` for `key_id` under `name` (a new random one by default); the name."""
        name = name or secrets.token_urlsafe(9)
        with self._lock:
            mine = self._items.setdefault(key_id, OrderedDict())
            mine[name] = (time.monotonic() + self.ttl_s, value)
            mine.move_to_end(name)
            while len(mine) > self.per_key:
                mine.popitem(last=False)
        return name

    def get(self, key_id: str, name: str) -> Any | None:
        with self._lock:
            mine = self._items.get(key_id, OrderedDict())
            found = mine.get(name)
            if found is None:
                return None
            if found[0] < time.monotonic():
                del mine[name]
                return None
            return found[1]
