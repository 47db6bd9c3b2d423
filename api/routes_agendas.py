"""Matchmaking day agendas over HTTP: start a job from the event and its requests, follow it, fetch
the agenda as JSON, agenda.csv, unscheduled.csv or the master grid (HTML)."""

from __future__ import annotations

import math
import threading
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.deps import ERRORS, AuditDep, EngineDep, get_services
from api.schemas import BatchJobOut
from api.security import AgencyKey, own_job
from matcher.domain.errors import InvalidQuery
from matcher.export.agenda import file_stem
from matcher.service.agenda_jobs import AgendaJobs
from matcher.service.agendas import EVENT_EXAMPLE, parse_event, parse_requests
from matcher.store.jobs import JobStore

__all__ = ["router"]

router = APIRouter(prefix="/v1/agendas", tags=["agendas"], responses=ERRORS)
_LOCK = threading.Lock()
FILES = {
    "csv": ("agenda.csv", "text/csv"),
    "unscheduled": ("unscheduled.csv", "text/csv"),
    "html": ("grid.html", "text/html; charset=utf-8"),
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class MeetingRequestIn(_Strict):
    requester_id: str = Field(min_length=1, max_length=200)
    target_id: str = Field(min_length=1, max_length=200)
    priority: float = Field(1.0, gt=0, le=100)

    @field_validator("requester_id", "target_id")
    @classmethod
    def _plain(cls, value: str) -> str:
        _check_plain(value)
        return value


class AgendaIn(_Strict):
    event: dict[str, Any] = Field(description="the event, as the event file of `matcher agenda`",
                                  examples=[EVENT_EXAMPLE])
    requests: list[MeetingRequestIn] = Field(max_length=50_000)
    participant_ids: list[str] = Field(default_factory=list, max_length=5_000,
                                       description="default: everyone a request names")

    @field_validator("event", "participant_ids")
    @classmethod
    def _plain(cls, value: Any) -> Any:
        _check_plain(value)
        return value


def _check_plain(value: Any) -> None:
    """Finite numbers and valid Unicode all through the event, as in every other body."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("numbers must be finite (no NaN or Infinity)")
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:
            raise ValueError("must be valid Unicode text; it holds a lone surrogate (U+D800 to U+DFFF)") from None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        _check_plain(key)
        _check_plain(item)


def get_agendas(request: Request) -> AgendaJobs:
    """One agenda job runner per app, made on first use over the store's job table."""
    with _LOCK:
        state = request.app.state
        if getattr(state, "agendas", None) is None:
            store = get_services(request).store
            state.agendas = AgendaJobs(JobStore(store), store.home / "agendas")
        return state.agendas  # type: ignore[no-any-return]


AgendasDep = Annotated[AgendaJobs, Depends(get_agendas)]


@router.post("", response_model=BatchJobOut, status_code=202)
def start_agenda(body: AgendaIn, engine: EngineDep, agendas: AgendasDep, audit: AuditDep,
                 key: AgencyKey) -> dict[str, Any]:
    event = parse_event(body.event)
    requests = parse_requests([r.model_dump() for r in body.requests])
    job = agendas.start(engine.corpus, event, requests, body.participant_ids,
                        {"requests": len(requests), "participants": len(body.participant_ids)}, key.key_id)
    audit.record("agenda", key_id=key.key_id, scope=key.scope, target=job["id"], requests=len(requests))
    return job


@router.get("/{job_id}", response_model=BatchJobOut)
def agenda_status(job_id: str, agendas: AgendasDep, key: AgencyKey) -> dict[str, Any]:
    """Readable only by the key that started the job, and by admin keys."""
    return own_job(agendas.get(job_id), key)


@router.get("/{job_id}/result", response_model=None)
def agenda_result(
    job_id: str, agendas: AgendasDep, audit: AuditDep, key: AgencyKey,
    format: Annotated[Literal["json", "csv", "unscheduled", "html", "ics"],
                      Query(description="json, csv (agenda.csv), unscheduled (unscheduled.csv), html (grid.html) "
                                        "or ics (one participant's calendar; give participant)")]
    = "json",
    participant: Annotated[str | None, Query(max_length=200, description="ics: whose calendar")] = None,
) -> Any:
    own_job(agendas.get(job_id), key)
    audit.record("export", key_id=key.key_id, scope=key.scope, target=job_id, format=format)
    if format == "ics":
        if not participant:
            raise InvalidQuery("format=ics needs participant, the id whose calendar to return")
        name = f"{file_stem(participant)}.ics"
        return FileResponse(agendas.result_file(job_id, f"calendars/{name}"), media_type="text/calendar",
                            filename=name)
    if format in FILES:
        name, media = FILES[format]
        return FileResponse(agendas.result_file(job_id, name), media_type=media, filename=name)
    return JSONResponse(agendas.result(job_id))
