"""`POST /v1/profiles/import`: the files `matcher ingest` reads, uploaded as the request body."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from api.deps import ERRORS, ServicesDep
from api.security import AdminKey
from matcher.service import profiles

__all__ = ["router"]

router = APIRouter(prefix="/v1/profiles", tags=["profiles"], responses=ERRORS)


@router.post("/import", summary="Import profiles from a file (body = the file's bytes)")
async def import_profiles(
    request: Request, services: ServicesDep, key: AdminKey,
    format: Annotated[
        Literal["jsonl", "openalex", "orcid", "cordis", "csv"],
        Query(description="jsonl, openalex, orcid, csv (flat profile CSV), or cordis (a zip of both CSV files)"),
    ],
) -> dict[str, Any]:
    body = await request.body()  # bounded by the upload size limit (413 beyond it)
    report = await run_in_threadpool(
        profiles.import_upload, services, body, format, key_id=key.key_id, scope=key.scope
    )
    return report.as_dict()
