"""An agency's consortium builder: the call and its rules in, several teams side by side out, each
with its coverage grid (aspects x members), its gaps and its countries; downloads as JSON, CSV
and XLSX. The same use case as `POST /v1/consortia` (`Engine.assemble`), in the same heavy-work
queue, charged to the key the same way, with the same audit row."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import Response

from api.web.access import AgencyCaller, Caller, WebError, checked_form
from api.web.call_form import IMPORTANCE, QUOTA_ROWS, aspect_rows, call_request
from api.web.forms import GROUP_CHOICES, FormError, values
from api.web.pages import HEADERS, page
from api.web.people import Unresolved
from api.web.queues import queued
from api.web.routes_people import chosen_people
from api.web.state import web_state
from api.web.teams import Teams, member_grid, teams_csv, teams_xlsx, views
from matcher.assemble.calls import CallRequest
from matcher.assemble.conflicts import ALLOW_CONFLICTS, EXACT_SOLVER
from matcher.domain.errors import InfeasibleConsortium, MatcherError
from matcher.service.engine import Engine

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

FIRST_ASPECTS = 4
DEFAULTS = {"size": "5", "min_countries": "3", "teams": "3", "apart": "on", "kinds": "all",
            **{f"aspect-{i}-text": "" for i in range(FIRST_ASPECTS)}}
RULE_FIELDS = {"size": "size", "min_size": "size", "max_size": "size", "must_include": "must_include",
               "conflicts": "apart", "max_per_country": "max_per_country", "min_countries": "min_countries"}
LITERAL = [(ALLOW_CONFLICTS, "To allow them in one team, untick “Keep co-authors and colleagues at one institution "
                            "in different teams”"),
           (EXACT_SOLVER, "the option “Prove the first team is the best possible”")]
PLAIN = [(r"\bmin_size\b|\bmax_size\b", "team size"), (r"\bmin_countries\b", "countries at least"),
         (r"\bmax_per_country\b", "members per country"), (r"\bgroup minimums\b|\bgroup_min\b", "quotas"),
         (r"\bthe greedy\b", "the search"), (r"\bthe exact solver\b", "the full check"),
         (r"\bthe solver budget of\b", "the time allowed,"),
         (r"\bmust_include\b", "must-include")]


def _context(request: Request, form: dict[str, Any], errors: dict[str, str], **more: Any) -> dict[str, Any]:
    rows = aspect_rows(form) or list(range(FIRST_ASPECTS))
    return {"title": "Build a consortium", "form": form, "errors": errors, "groups": GROUP_CHOICES,
            "importance": IMPORTANCE, "aspects": rows, "next_aspect": max(rows) + 1, "quotas": range(QUOTA_ROWS),
            "must": chosen_people(request, _listed(form, "must_include")),
            "excluded": chosen_people(request, _listed(form, "excluded")), **more}


def _listed(form: dict[str, Any], name: str) -> list[str]:
    value = form.get(name, [])
    return [value] if isinstance(value, str) and value else list(value or [])


def _plain(reason: str) -> str:
    """The solver's reason in the page's words: its rules and options by their labels here."""
    for literal, words in LITERAL:
        reason = reason.replace(literal, words)
    for pattern, words in PLAIN:
        reason = re.sub(pattern, words, reason)
    return reason[:1].upper() + reason[1:]


def _infeasible(err: InfeasibleConsortium) -> tuple[str, str]:
    field = "quota-0-group" if err.rule.startswith("group_min") else RULE_FIELDS.get(err.rule, "size")
    reason = _plain(err.reason).rstrip(". ")
    return field, f"{reason}. Change this rule, or let more candidates in."


def _solve(engine: Engine, call: CallRequest) -> Teams:
    result = engine.assemble(call)
    vectors = engine.embedder.embed_uncached([a.text for a in result.aspects])
    return Teams(result, member_grid(engine.corpus(), result, vectors), call.gap_threshold)


@router.get("/consortia")
def consortia_page(request: Request, caller: AgencyCaller) -> Response:
    return page(request, "consortia.html", _context(request, dict(DEFAULTS), {}), caller=caller)


@router.get("/consortia/aspect-row")
def aspect_row(request: Request, caller: AgencyCaller) -> Response:
    """One more aspect row (htmx), numbered `i`."""
    try:
        i = min(max(int(request.query_params.get("i", "0")), 0), 29)
    except ValueError:
        i = 0
    return page(request, "_aspect_row.html", {"i": i, "form": {}, "importance": IMPORTANCE, "errors": {},
                                              "next_aspect": i + 1}, caller=caller)


async def _build(request: Request, caller: Caller, form: FormData) -> CallRequest:
    engine: Engine = request.app.state.services.engine
    people = web_state(request).people

    def resolve(field: str, typed: str) -> str:
        try:
            return people.resolve(engine.corpus(), typed).id
        except Unresolved as err:
            raise FormError(field, str(err)) from None

    return await run_in_threadpool(call_request, form, resolve)


@router.post("/consortia")
async def consortia(request: Request, caller: AgencyCaller) -> Response:
    form = await checked_form(request, caller.session)
    typed = values(form)
    errors: dict[str, str] = {}
    engine: Engine = request.app.state.services.engine
    try:
        call = await _build(request, caller, form)
        teams = await queued(request, caller, "heavy", lambda: _solve(engine, call))
    except FormError as err:
        errors = {err.field: err.message}
    except InfeasibleConsortium as err:
        field, message = _infeasible(err)
        errors = {field: message}
    except MatcherError as err:
        errors = {"call_text": _plain(str(err)) + "."}
    if errors:
        return page(request, "consortia.html", _context(request, typed, errors), caller=caller, status=422,
                    part="_teams.html")
    request.app.state.services.audit.record("consortium", key_id=caller.key.key_id, scope=caller.key.scope,
                                            aspects=len(teams.result.aspects), teams=len(teams.result.teams),
                                            exact=call.exact)
    kept = web_state(request).kept.put(caller.key.key_id, teams)
    typed.pop("must_include_q", None)  # the people typed are now chosen, ticked for the next try
    typed.pop("excluded_q", None)
    typed.update({"must_include": list(call.must_include), "excluded": list(call.exclude)})
    context = _context(request, typed, {}, teams=views(teams, call.must_include), kept=kept, done=True,
                       notes=[_plain(note).rstrip(".") + "." for note in teams.result.notes])
    return page(request, "consortia.html", context, caller=caller, part="_teams.html")


FORMATS = {"json": "application/json", "csv": "text/csv; charset=utf-8",
           "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@router.get("/consortia/{kept}/teams.{fmt}")
def consortia_download(request: Request, kept: str, fmt: str, caller: AgencyCaller) -> Response:
    """The teams of an answer of the last hour, as JSON (as the API answers), CSV or XLSX."""
    teams: Teams | None = web_state(request).kept.get(caller.key.key_id, kept)
    if fmt not in FORMATS or teams is None:
        raise WebError(404, "These teams are no longer here",
                       "Answers are kept for an hour after they are made. Build the teams again to download them.")
    store = request.app.state.services.store
    if not all(store.exists(m.id) for t in teams.result.teams for m in t.members):
        raise WebError(410, "These teams have changed",
                       "Someone in them has erased their profile since. Build the teams again to download them.")
    request.app.state.services.audit.record("export", key_id=caller.key.key_id, scope=caller.key.scope,
                                            target="consortium", format=fmt)
    if fmt == "json":
        body = json.dumps(dataclasses.asdict(teams.result), ensure_ascii=False, indent=2).encode()
    else:
        body = teams_csv(teams) if fmt == "csv" else teams_xlsx(teams)
    return Response(body, media_type=FORMATS[fmt], headers={
        **HEADERS, "Content-Disposition": f'attachment; filename="teams.{fmt}"'})
