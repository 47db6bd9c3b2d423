"""Who is calling: API keys from the `X-API-Key` header, scopes, per-key rate limits."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader

from matcher.store.keys import ApiKey, KeyStore

__all__ = [
    "AdminKey", "AdminOrOwnerKey", "AgencyKey", "AnyKey", "RateLimiter", "ReadKey", "caller", "require",
    "require_admin_or_owner",
]

_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="an API key from `matcher keys create`")


class RateLimiter:
    """A token bucket per key: `per_minute` requests a minute, bursts up to the same number."""

    def __init__(self, per_minute: int):
        self.rate = per_minute / 60.0
        self.capacity = float(per_minute)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def wait_time(self, key_id: str) -> float:
        """0 if the request may go now (and takes a token), else seconds until it may."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key_id, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._buckets[key_id] = (tokens - 1, now)
                return 0.0
            self._buckets[key_id] = (tokens, now)
            return (1 - tokens) / self.rate


def caller(request: Request, secret: Annotated[str | None, Depends(_header)]) -> ApiKey:
    """The verified key of this request: 401 without a valid key, 429 over the key's rate."""
    keys: KeyStore = request.app.state.services.keys
    key = keys.verify(secret)
    if key is None:
        raise HTTPException(401, "missing or invalid API key (send it in the X-API-Key header)",
                            headers={"WWW-Authenticate": "APIKey"})
    wait = request.app.state.limiter.wait_time(key.key_id)
    if wait > 0:
        raise HTTPException(429, f"rate limit exceeded for this key; retry in {math.ceil(wait)} s",
                            headers={"Retry-After": str(math.ceil(wait))})
    request.state.key = key
    return key


def require(scope: str) -> Callable[[ApiKey], ApiKey]:
    def check(key: Annotated[ApiKey, Depends(caller)]) -> ApiKey:
        if not key.allows(scope):
            raise HTTPException(403, f"this key's scope '{key.scope}' does not allow this; it needs '{scope}'")
        return key

    return check


def require_admin_or_owner(profile_id: str, key: Annotated[ApiKey, Depends(caller)]) -> ApiKey:
    if key.allows("admin") or key.owns(profile_id):
        return key
    raise HTTPException(403, "only an admin key or this profile's owner key may change it")


AnyKey = Annotated[ApiKey, Depends(caller)]
ReadKey = Annotated[ApiKey, Depends(require("read"))]
AgencyKey = Annotated[ApiKey, Depends(require("agency"))]
AdminKey = Annotated[ApiKey, Depends(require("admin"))]
AdminOrOwnerKey = Annotated[ApiKey, Depends(require_admin_or_owner)]
