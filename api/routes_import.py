"""`POST /v1/profiles/import`: the files `matcher ingest` reads, uploaded as the request body."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from api.deps import ERRORS, ServicesDep
from api.fairness import compute
from api.security import AdminKey
from matcher.service import profiles

__all__ = ["router"]

router = APIRouter(prefix="/v1/profiles", tags=["profiles"], responses=ERRORS)


@router.post(
    "/import",
    summary="Import profiles from a file (body = the file's bytes)",
    description=(
        "Reads the file as `matcher ingest` does, within the same bounds: a line (record) longer than "
        "MATCHER_MAX_LINE_BYTES or a CSV cell longer than MATCHER_MAX_FIELD_BYTES is rejected with its line, "
        "and the other records are kept; a file that is not one record per line within the bound, a JSON "
        "document over MATCHER_MAX_DOCUMENT_BYTES, or a CORDIS zip whose members expand more than "
        "MATCHER_MAX_ZIP_RATIO times or to more than MATCHER_MAX_UNPACKED_BYTES together, gets a 400 that "
        "says which. Messages name the upload's own files, never a path on the server."
    ),
)
async def import_profiles(
    request: Request, services: ServicesDep, key: AdminKey,
    format: Annotated[
        Literal["jsonl", "openalex", "orcid", "cordis", "csv"],
        Query(description="jsonl, openalex, orcid, csv (flat profile CSV), or cordis (a zip of both CSV files)"),
    ],
) -> dict[str, Any]:
    body = await request.body()  # bounded by the upload size limit (413 beyond it)
    state = request.app.state
    report = await run_in_threadpool(  # heavy work: its own queue, charged to the key (`api.fairness`)
        compute, state.heavy, state.limiter, key.key_id,
        lambda: profiles.import_upload(services, body, format, key_id=key.key_id, scope=key.scope),
    )
    return report.as_dict()
