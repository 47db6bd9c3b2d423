"""Batch jobs over HTTP: start one, follow its progress, fetch its result as JSON, CSV, Parquet, XLSX or
the HTML report."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, JSONResponse
from starlette.background import BackgroundTask

from api.deps import ERRORS, AuditDep, BatchesDep, EngineDep
from api.schemas import BatchIn, BatchJobOut
from api.security import AgencyKey, own_job
from matcher.assign.exposure import exposure_summary
from matcher.assign.programme import build_request

__all__ = ["router"]

router = APIRouter(prefix="/v1/batches", tags=["batches"], responses=ERRORS)

# format -> (rendered file, media type); json is the result itself
FILES = {
    "csv": ("pairs.csv", "text/csv"),
    "parquet": ("pairs.parquet", "application/vnd.apache.parquet"),
    "xlsx": ("pairs.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "html": ("report.html", "text/html; charset=utf-8"),
}


@router.post("", response_model=BatchJobOut, status_code=202)
def start_batch(body: BatchIn, engine: EngineDep, batches: BatchesDep, audit: AuditDep,
                key: AgencyKey) -> dict[str, Any]:
    batch = build_request(
        body.mode, k=body.k, capacity=body.capacity, pool=tuple(body.pool_ids),
        pool_countries=tuple(body.pool_countries), exclude_countries=tuple(body.exclude_countries),
        sides=tuple(body.sides), cross_border=body.cross_border, exclude_conflicts=body.exclude_conflicts,
        min_score=body.min_score, fair=body.fair, exposure_cap=body.exposure_cap,
        prefer_countries=tuple(body.prefer_countries), prefer_weight=body.prefer_weight,
    )
    job = batches.start(engine.corpus, batch, body.model_dump(), key.key_id)
    audit.record("batch", key_id=key.key_id, scope=key.scope, target=job["id"], mode=body.mode,
                 pool=len(body.pool_ids) or "store")
    return job


@router.get("/{job_id}", response_model=BatchJobOut)
def batch_status(job_id: str, batches: BatchesDep, key: AgencyKey) -> dict[str, Any]:
    """Readable only by the key that started the job, and by admin keys."""
    return own_job(batches.get(job_id), key)


@router.get("/{job_id}/result", response_model=None)
def batch_result(
    job_id: str, batches: BatchesDep, audit: AuditDep, key: AgencyKey,
    format: Annotated[
        Literal["json", "csv", "parquet", "xlsx", "html"],
        Query(description="json, csv (pairs.csv), parquet (pairs.parquet), xlsx (pairs.xlsx: pairs and unmatched "
                          "sheets) or html (report.html)"),
    ] = "json",
) -> Any:
    own_job(batches.get(job_id), key)
    audit.record("export", key_id=key.key_id, scope=key.scope, target=job_id, format=format)
    if format in FILES:
        name, media = FILES[format]
        path = batches.result_file(job_id, name)
        return FileResponse(path, media_type=media, filename=name,
                            background=BackgroundTask(batches.release_file, path))
    data = batches.result(job_id)
    out = {k: data[k] for k in ("mode", "summary", "pairs", "unmatched")}
    out["run"] = data.get("run", {})
    out["exposure"] = exposure_summary((p["partner_id"] for p in data["pairs"]), data.get("countries", {}))
    return JSONResponse(out)


