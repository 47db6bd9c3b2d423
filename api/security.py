"""Who is calling: API keys from the `X-API-Key` header, scopes, per-key rate limits (`api.fairness`)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader

from matcher.domain.errors import JobNotFound
from matcher.store.keys import ApiKey, KeyStore

__all__ = [
    "AdminKey", "AdminOrOwnerKey", "AgencyKey", "AnyKey", "ReadKey", "caller", "own_job", "require",
    "require_admin_or_owner",
]

_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="an API key from `matcher keys create`")


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


def own_job(job: dict[str, Any], key: ApiKey) -> dict[str, Any]:
    """The job, if this key may see it (`ApiKey.sees_job`); otherwise it does not exist for this key."""
    if not key.sees_job(job):
        raise JobNotFound(str(job["id"]))
    return job


def require_admin_or_owner(profile_id: str, key: Annotated[ApiKey, Depends(caller)]) -> ApiKey:
    if key.allows("admin") or key.owns(profile_id):
        return key
    raise HTTPException(403, "only an admin key or this profile's owner key may change it")


AnyKey = Annotated[ApiKey, Depends(caller)]
ReadKey = Annotated[ApiKey, Depends(require("read"))]
AgencyKey = Annotated[ApiKey, Depends(require("agency"))]
AdminKey = Annotated[ApiKey, Depends(require("admin"))]
AdminOrOwnerKey = Annotated[ApiKey, Depends(require_admin_or_owner)]
