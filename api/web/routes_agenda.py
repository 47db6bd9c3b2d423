"""The programme office's matchmaking day: the event file and the requests uploaded, the agenda
planned as a job (as `POST /v1/agendas`), then the master grid and the files to download.
Agency and admin keys; a job is visible only to the key that started it and to admin keys."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import UploadFile
from starlette.responses import FileResponse, Response

from api.routes_agendas import get_agendas
from api.web.access import AgencyCaller, Caller, WebError, checked_form
from api.web.pages import HEADERS, page, redirect
from matcher.domain.errors import JobNotFound, MatcherError
from matcher.service.agendas import EVENT_EXAMPLE, parse_event, parse_requests, read_rows
from matcher.service.bootstrap import Services

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
FILES = {"agenda.csv": "text/csv", "unscheduled.csv": "text/csv", "grid.html": "text/html"}
STATUS = {"queued": "Waiting to start", "running": "Planning", "done": "Done", "failed": "Stopped"}


def _form_page(request: Request, caller: Caller, error: str = "", status: int = 200) -> Response:
    return page(request, "agenda.html", {"title": "Plan a matchmaking day", "error": error,
                                         "example": json.dumps(EVENT_EXAMPLE, indent=1)}, caller=caller, status=status)


@router.get("/office/agenda")
def agenda_page(request: Request, caller: AgencyCaller) -> Response:
    return _form_page(request, caller)


@router.post("/office/agenda")
async def start_agenda(request: Request, caller: AgencyCaller) -> Response:
    form = await checked_form(request, caller.session)
    event_file, requests_file = form.get("event_file"), form.get("requests_file")
    if not isinstance(event_file, UploadFile) or not event_file.filename:
        return _form_page(request, caller, "Choose the event file (JSON).", 422)
    if not isinstance(requests_file, UploadFile) or not requests_file.filename:
        return _form_page(request, caller, "Choose the file of meeting requests (CSV, XLSX or JSON).", 422)
    suffix = Path(requests_file.filename).suffix.lower()
    if suffix not in (".csv", ".xlsx", ".json", ".jsonl"):
        return _form_page(request, caller, "The requests file must be CSV, XLSX, JSON or JSONL.", 422)
    try:
        event = parse_event(json.loads(await event_file.read()))
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"requests{suffix}"
            path.write_bytes(await requests_file.read())
            requests = parse_requests(read_rows(path))
    except (MatcherError, ValueError) as err:
        message = str(err) if isinstance(err, MatcherError) else "The event file is not valid JSON."
        return _form_page(request, caller, message, 422)
    services: Services = request.app.state.services
    job = get_agendas(request).start(services.engine.corpus, event, requests, (),
                                     {"requests": len(requests), "participants": 0}, caller.key.key_id)
    services.audit.record("agenda", key_id=caller.key.key_id, scope=caller.key.scope, target=job["id"],
                          requests=len(requests))
    return redirect(request, f"/office/agenda/{job['id']}")


def _job(request: Request, caller: Caller, job_id: str) -> dict[str, Any]:
    try:
        job = get_agendas(request).get(job_id)
    except JobNotFound:
        job = None
    if job is None or not (caller.key.allows("admin") or job.get("key_id") == caller.key.key_id):
        raise WebError(404, "No such agenda", "There is no agenda with this address for your key. Agendas are "
                                              "visible only to the key that started them.")
    return job


@router.get("/office/agenda/{job_id}")
def agenda_job_page(request: Request, job_id: str, caller: AgencyCaller) -> Response:
    job = _job(request, caller, job_id)
    context: dict[str, Any] = {"title": f"Agenda {job['id']}", "job": job,
                               "status": STATUS.get(job["status"], job["status"])}
    if job["status"] == "done":
        try:
            data = get_agendas(request).result(job_id)
        except MatcherError as err:
            job["status"], job["error"] = "removed", str(err)
            context["status"] = "Removed"
            return page(request, "agenda_job.html", context, caller=caller)
        slots = sorted({(m["slot"], m["slot_start"], m["slot_end"]) for m in data["meetings"]})
        tables = max((m["table"] for m in data["meetings"]), default=0)
        cells = {(m["slot"], m["table"]): m for m in data["meetings"]}
        context.update(summary=data["summary"], slots=slots, tables=range(1, tables + 1), cells=cells,
                       unscheduled=data["unscheduled"][:200])
    return page(request, "agenda_job.html", context, caller=caller)


@router.get("/office/agenda/{job_id}/files/{name}")
def agenda_file(request: Request, job_id: str, name: str, caller: AgencyCaller) -> Response:
    _job(request, caller, job_id)
    if name not in FILES:
        raise WebError(404, "No such file", "The files of an agenda are " + ", ".join(FILES) + ".")
    try:
        path = get_agendas(request).result_file(job_id, name)
    except MatcherError as err:
        raise WebError(404, "The agenda is not available", str(err)) from None
    services: Services = request.app.state.services
    services.audit.record("export", key_id=caller.key.key_id, scope=caller.key.scope, target=job_id, format=name)
    return FileResponse(path, media_type=FILES[name], filename=name, headers=HEADERS)
