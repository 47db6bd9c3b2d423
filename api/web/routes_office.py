"""A programme office's pages: a pool (uploaded, or profiles already stored) matched at once; the
job's page follows its progress (htmx polls; without script the page refreshes) and shows the
report inline, the rejected records of the upload, and the downloads.

Access is the API's: batches are for agency and admin keys (`/v1/batches`), a job is visible
only to the key that started it and to admin keys, and an upload stores profiles, which only an
admin key may do (`/v1/profiles/import`). The upload is read and stored in the heavy-work queue,
charged to the key; the batch runs on the service's batch worker, as `POST /v1/batches` does.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter, Request
from starlette.background import BackgroundTask
from starlette.datastructures import FormData, UploadFile
from starlette.responses import FileResponse, Response

from api.web import words
from api.web.access import AgencyCaller, Caller, WebError, checked_form
from api.web.forms import FormError, values
from api.web.pages import HEADERS, page, redirect
from api.web.pool import FORMATS, Upload, UploadResult, batch_options, store_upload
from api.web.queues import queued
from api.web.report import report
from api.web.state import web_state
from matcher.domain.errors import JobNotFound, MatcherError
from matcher.service.bootstrap import Services

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

DEFAULTS = {"source": "stored", "pool_format": "auto", "mode": "topk", "k": "5", "cross_border": "on", "apart": "on"}
FILES = {"pairs.csv": "text/csv", "unmatched.csv": "text/csv", "report.html": "text/html",
         "pairs.parquet": "application/vnd.apache.parquet",
         "pairs.xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
STATUS = {"queued": "Waiting to start", "running": "Matching", "done": "Done", "failed": "Stopped",
          "expired": "Expired"}


def _context(request: Request, caller: Caller, form: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    limit = web_state(request).upload_limit
    recent = web_state(request).kept.get(caller.key.key_id, "jobs") or []
    return {"title": "Match a whole pool", "form": form, "errors": errors, "formats": FORMATS,
            "may_upload": caller.key.allows("admin"), "limit": f"{limit / 2**20:g} MB" if limit >= 2**20
            else f"{limit // 1024} kB", "recent": recent}


@router.get("/office")
def office_page(request: Request, caller: AgencyCaller) -> Response:
    form = {**DEFAULTS, "source": "upload" if caller.key.allows("admin") else "stored"}
    return page(request, "office.html", _context(request, caller, form, {}), caller=caller)


async def _upload(form: FormData) -> Upload:
    pool, mapping = form.get("pool_file"), form.get("mapping_file")
    if not isinstance(pool, UploadFile) or not pool.filename:
        raise FormError("pool_file", "Choose the file that holds the pool.")
    body = await pool.read()
    if not body:
        raise FormError("pool_file", f"{pool.filename} is empty. Choose the file that holds the pool.")
    fmt = str(form.get("pool_format") or "auto")
    extra = await mapping.read() if isinstance(mapping, UploadFile) and mapping.filename else b""
    return Upload(pool.filename, body, fmt if fmt in FORMATS else "auto", extra)


@router.post("/office")
async def start(request: Request, caller: AgencyCaller) -> Response:
    form = await checked_form(request, caller.session)
    services: Services = request.app.state.services
    typed = values(form)
    stored: UploadResult | None = None
    try:
        mode, batch = batch_options(form)
        if form.get("source") == "upload":
            if not caller.key.allows("admin"):
                raise FormError("source-upload", "Uploading a pool adds its profiles to the store, which needs an "
                                                 "admin key. Match the profiles already stored, or sign in as admin.")
            upload = await _upload(form)
            key = caller.key
            stored = await queued(request, caller, "heavy",
                                  lambda: store_upload(services, upload, key_id=key.key_id, scope=key.scope))
            if len(stored.ids) < 2:
                raise FormError("pool_file", "A pool needs at least two applicants; the file has "
                                             f"{words.plural(len(stored.ids), 'usable record')}.")
            batch = dataclasses.replace(batch, pool=stored.ids)
        described = {"mode": mode, "k": batch.k, "capacity": batch.capacity, "pool_ids": list(batch.pool),
                     "cross_border": batch.cross_border, "exclude_conflicts": batch.exclude_conflicts,
                     "sides": list(batch.side_names) if batch.sides else []}
        job = services.batches.start(services.engine.corpus, batch, described, caller.key.key_id)
    except FormError as err:
        context = _context(request, caller, typed, {err.field: err.message})
        context["rejected"] = stored.rejected if stored else ()
        return page(request, "office.html", context, caller=caller, status=422)
    except MatcherError as err:
        return page(request, "office.html", _context(request, caller, typed, {"mode-topk": str(err)}),
                    caller=caller, status=422)
    services.audit.record("batch", key_id=caller.key.key_id, scope=caller.key.scope, target=job["id"], mode=mode,
                          pool=len(batch.pool) or "store")
    kept = web_state(request).kept
    if stored is not None:
        kept.put(caller.key.key_id, stored, name=f"upload-{job['id']}")
    recent = kept.get(caller.key.key_id, "jobs") or []
    kept.put(caller.key.key_id, [job["id"], *[j for j in recent if j != job["id"]]][:10], name="jobs")
    return redirect(request, f"/office/jobs/{job['id']}")


def _job(request: Request, caller: Caller, job_id: str) -> dict[str, Any]:
    """The job, if this key started it or is an admin key (as `/v1/batches/{id}`)."""
    services: Services = request.app.state.services
    try:
        job = services.batches.get(job_id)
    except JobNotFound:
        job = None
    if job is None or not caller.key.sees_job(job):
        raise WebError(404, "No such job", "There is no matching job with this address for your key. Jobs are "
                                           "visible only to the key that started them.")
    return job


def _job_context(request: Request, caller: Caller, job: dict[str, Any]) -> dict[str, Any]:
    services: Services = request.app.state.services
    context: dict[str, Any] = {"title": f"Matching job {job['id']}", "job": job,
                               "status": STATUS.get(job["status"], job["status"]),
                               "upload": web_state(request).kept.get(caller.key.key_id, f"upload-{job['id']}")}
    if job["status"] == "done":
        corpus = services.engine.corpus()

        def name_of(profile_id: str) -> str:
            row = corpus.row_of.get(profile_id)
            return corpus.names[row] if row is not None else profile_id

        try:
            context["report"] = report(services.batches.result(job["id"]), name_of)
        except MatcherError as err:
            context["status"], job["error"] = "Expired", str(err)
    return context


@router.get("/office/jobs/{job_id}")
def job_page(request: Request, job_id: str, caller: AgencyCaller) -> Response:
    job = _job(request, caller, job_id)
    return page(request, "job.html", _job_context(request, caller, job), caller=caller, part="_job.html")


@router.get("/office/jobs/{job_id}/files/{name}")
def job_file(request: Request, job_id: str, name: str, caller: AgencyCaller) -> Response:
    _job(request, caller, job_id)
    services: Services = request.app.state.services
    if name not in FILES:
        raise WebError(404, "No such file", "The files of a job are " + ", ".join(FILES) + ".")
    try:
        path = services.batches.result_file(job_id, name)
    except MatcherError as err:
        raise WebError(404, "The result is not available", f"{str(err)[:1].upper()}{str(err)[1:]}.") from None
    services.audit.record("export", key_id=caller.key.key_id, scope=caller.key.scope, target=job_id, format=name)
    return FileResponse(path, media_type=FILES[name], filename=name, headers=HEADERS,
                        background=BackgroundTask(services.batches.release_file, path))
