"""Batch jobs over HTTP: start one, follow its progress, fetch its result as JSON or CSV."""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, JSONResponse

from api.routes import _ERRORS, AuditDep, EngineDep
from api.schemas import BatchIn, BatchJobOut
from api.security import AgencyKey
from matcher.store.jobs import JobStore
from matcher.assign.programme import build_request, run_batch

__all__ = ["router"]

log = logging.getLogger("matcher.api")
router = APIRouter(prefix="/v1/batches", tags=["batches"], responses=_ERRORS)


def get_jobs(request: Request) -> JobStore:
    return request.app.state.jobs  # type: ignore[no-any-return]


JobsDep = Annotated[JobStore, Depends(get_jobs)]


@router.post("", response_model=BatchJobOut, status_code=202)
def start_batch(body: BatchIn, request: Request, engine: EngineDep, jobs: JobsDep, audit: AuditDep,
                key: AgencyKey) -> dict[str, Any]:
    batch = build_request(
        body.mode, k=body.k, capacity=body.capacity, pool=tuple(body.pool_ids),
        pool_countries=tuple(body.pool_countries), exclude_countries=tuple(body.exclude_countries),
        sides=tuple(body.sides), cross_border=body.cross_border, exclude_conflicts=body.exclude_conflicts,
    )
    job_id = jobs.create(body.model_dump(), key.key_id)
    audit.record("batch", key_id=key.key_id, scope=key.scope, target=job_id, mode=body.mode,
                 pool=len(body.pool_ids) or "store")

    def work() -> None:
        try:
            result = run_batch(engine.corpus(), batch, lambda done, total: jobs.progress(job_id, done, total))
            jobs.finish(job_id, result)
        except Exception as err:  # the job fails with a message; the service goes on
            log.error("batch job %s failed: %s", job_id, type(err).__name__)
            jobs.fail(job_id, str(err) or type(err).__name__)

    request.app.state.workers.submit(work)
    return jobs.get(job_id)


@router.get("/{job_id}", response_model=BatchJobOut)
def batch_status(job_id: str, jobs: JobsDep, key: AgencyKey) -> dict[str, Any]:
    return jobs.get(job_id)


@router.get("/{job_id}/result", response_model=None)
def batch_result(
    job_id: str, jobs: JobsDep, audit: AuditDep, key: AgencyKey,
    format: Annotated[Literal["json", "csv"], Query(description="json, or csv (pairs.csv)")] = "json",
) -> Any:
    audit.record("export", key_id=key.key_id, scope=key.scope, target=job_id, format=format)
    if format == "csv":
        return FileResponse(jobs.result_file(job_id, "pairs.csv"), media_type="text/csv", filename="pairs.csv")
    data = jobs.result(job_id)
    return JSONResponse({k: data[k] for k in ("mode", "summary", "pairs", "unmatched")})


