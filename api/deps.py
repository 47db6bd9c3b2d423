"""What route handlers receive: the services (wired once, in the app's lifespan) and their parts,
and the error responses every `/v1` route documents."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from api.schemas import ErrorOut
from matcher.service.batches import BatchJobs
from matcher.service.bootstrap import Services
from matcher.service.engine import Engine
from matcher.store.audit import AuditLog
from matcher.store.keys import KeyStore

__all__ = ["ERRORS", "AuditDep", "BatchesDep", "EngineDep", "KeysDep", "ServicesDep"]

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": text}
    for status, text in [
        (401, "no valid API key"), (403, "the key lacks the scope"), (404, "not found"), (409, "conflict"),
        (413, "request body too large"), (422, "invalid input; `detail` names the field and the reason"),
        (429, "rate limit; see Retry-After"),
    ]
}


def get_services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


def get_engine(request: Request) -> Engine:
    return get_services(request).engine


def get_audit(request: Request) -> AuditLog:
    return get_services(request).audit


def get_keys(request: Request) -> KeyStore:
    return get_services(request).keys


def get_batches(request: Request) -> BatchJobs:
    return get_services(request).batches


ServicesDep = Annotated[Services, Depends(get_services)]
EngineDep = Annotated[Engine, Depends(get_engine)]
AuditDep = Annotated[AuditLog, Depends(get_audit)]
KeysDep = Annotated[KeyStore, Depends(get_keys)]
BatchesDep = Annotated[BatchJobs, Depends(get_batches)]
