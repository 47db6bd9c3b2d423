"""`POST /v1/profiles/import`: the files `matcher ingest` reads, uploaded as the request body."""

from __future__ import annotations

import dataclasses
import io
import tempfile
import zipfile
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from api.routes import _ERRORS, AuditDep, EngineDep
from api.security import AdminKey
from matcher.domain.errors import MatcherError
from matcher.ingest.detect import read_source

__all__ = ["router"]

router = APIRouter(prefix="/v1/profiles", tags=["profiles"], responses=_ERRORS)

_SUFFIX = {"jsonl": ".jsonl", "openalex": ".jsonl", "orcid": ".json", "csv": ".csv", "xlsx": ".xlsx"}
_CORDIS = ("project.csv", "organization.csv")


def _unpack_cordis(body: bytes, folder: Path) -> Path:
    """A zip holding project.csv and organization.csv (anywhere inside); nothing else is extracted."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(body))
    except zipfile.BadZipFile:
        raise MatcherError("a CORDIS upload must be a zip of project.csv and organization.csv") from None
    found = {Path(n).name: n for n in archive.namelist() if Path(n).name in _CORDIS}
    if set(found) != set(_CORDIS):
        raise MatcherError(f"the zip must contain {' and '.join(_CORDIS)}; found {', '.join(found) or 'neither'}")
    for name, member in found.items():
        if archive.getinfo(member).file_size > 200 * 2**20:
            raise MatcherError(f"{name} is larger than 200 MiB unpacked")
        (folder / name).write_bytes(archive.read(member))
    return folder


@router.post("/import", summary="Import profiles from a file (body = the file's bytes)")
async def import_profiles(
    request: Request, engine: EngineDep, audit: AuditDep, key: AdminKey,
    format: Annotated[
        Literal["jsonl", "openalex", "orcid", "cordis", "csv"],
        Query(description="jsonl, openalex, orcid, csv (flat profile CSV), or cordis (a zip of both CSV files)"),
    ],
) -> dict[str, Any]:
    body = await request.body()  # bounded by the upload size limit (413 beyond it)
    if not body:
        raise MatcherError("the request body is empty: send the file's bytes")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if format == "cordis":
            path = _unpack_cordis(body, folder)
        else:
            path = folder / f"upload{_SUFFIX[format]}"
            path.write_bytes(body)
        result = await run_in_threadpool(read_source, path, format)
    upserted = await run_in_threadpool(engine.add, [p for _, p in result.profiles])
    audit.record("import", key_id=key.key_id, scope=key.scope, format=format, accepted=len(result.profiles),
                 rejected=len(result.rejected))
    return {
        "read": len(result.profiles) + len(result.rejected),
        "added": upserted.added, "updated": upserted.updated, "unchanged": upserted.unchanged,
        "merged": sum(n.startswith("merged") for n in result.notes), "rejected": len(result.rejected),
        "rejections": [dataclasses.asdict(r) for r in result.rejected], "notes": result.notes,
    }
