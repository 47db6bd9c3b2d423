"""A scientist's page: partners abroad by my profile, by an idea, or both; results as cards and CSV.

The same use case as `POST /v1/match` (`Engine.match`), in the same queue, with the same audit row.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import Response

from api.web import words
from api.web.access import AnyCaller, Caller, checked_form
from api.web.forms import GROUP_CHOICES, FormError, countries, flag, text, values
from api.web.pages import HEADERS, page
from api.web.people import Unresolved
from api.web.queues import queued
from api.web.sheets import csv_bytes
from api.web.state import web_state
from matcher.domain.errors import InvalidQuery, MatcherError, ProfileNotFound
from matcher.rank.matching import Suggestion
from matcher.service.engine import Engine, MatchRequest

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

VARIETY = {"balanced": None, "closest": 0.0, "varied": 0.3}  # None: the service's default diversity
SIZES = (5, 10, 20, 50)
KINDS = {"all": (), "researcher": ("researcher",), "organisation": ("organisation",)}


def _defaults(caller: Caller) -> dict[str, Any]:
    return {"use_profile": "on" if caller.key.scope == "owner" else "", "k": "10", "variety": "balanced",
            "kinds": "all"}


def _context(caller: Caller, form: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"title": "Find partners", "form": form, "groups": GROUP_CHOICES, "sizes": SIZES, "errors": {},
            "own": caller.key.owner if caller.key.scope == "owner" else None, **more}


def _choice(form: FormData, name: str, allowed: Any, default: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) and value in allowed else default


def _request(request: Request, caller: Caller, form: FormData) -> MatchRequest:
    """The match the form asks for (names typed for a profile resolved to its id)."""
    engine: Engine = request.app.state.services.engine
    idea = text(form, "text", "Your idea")
    profile_id: str | None = None
    if caller.key.scope == "owner":
        profile_id = caller.key.owner if flag(form, "use_profile") else None
    elif typed := text(form, "profile", "Profile", limit=300):
        try:
            profile_id = web_state(request).people.resolve(engine.corpus(), typed).id
        except Unresolved as err:
            raise FormError("profile", str(err)) from None
    if profile_id is None and not idea:
        where = "tick “Use my profile”" if caller.key.scope == "owner" else "name a profile"
        raise FormError("text", f"Describe your idea, or {where}, or both.")
    return MatchRequest(
        profile_id=profile_id, text=idea or None, k=int(_choice(form, "k", {str(s) for s in SIZES}, "10")),
        countries=countries(form, "countries", "Only from", groups="groups"),
        exclude_countries=countries(form, "exclude", "Never from"),
        exclude_own_country=not flag(form, "own_country"), exclude_coauthors=flag(form, "no_coauthors"),
        exclude_same_institution=flag(form, "no_colleagues"),
        kinds=KINDS[_choice(form, "kinds", KINDS, "all")],
        diversity=VARIETY[_choice(form, "variety", VARIETY, "balanced")],
    )


def _field_of(err: MatcherError) -> str:
    if isinstance(err, ProfileNotFound):
        return "profile"
    return "text" if isinstance(err, InvalidQuery) else "form"


async def _search(request: Request, caller: Caller) -> tuple[dict[str, Any], MatchRequest | None, list[Suggestion]]:
    form = await checked_form(request, caller.session)
    typed = values(form)
    try:
        match = await run_in_threadpool(_request, request, caller, form)
        engine: Engine = request.app.state.services.engine
        found = await queued(request, caller, "quick", lambda: engine.match(match))
    except FormError as err:
        return typed | {"_errors": {err.field: err.message}}, None, []
    except MatcherError as err:
        return typed | {"_errors": {_field_of(err): _plain(err)}}, None, []
    request.app.state.services.audit.record(
        "match", key_id=caller.key.key_id, scope=caller.key.scope, by_id=match.profile_id is not None,
        by_text=match.text is not None, k=match.k, results=len(found))
    return typed, match, found


def _plain(err: MatcherError) -> str:
    if isinstance(err, ProfileNotFound):
        return (f"There is no profile with the id “{err.profile_id}”. Check the id, or type a name and "
                "pick from the list.")
    return str(err)[:1].upper() + str(err)[1:] + "."


def _cards(found: list[Suggestion]) -> list[dict[str, Any]]:
    return [{"s": s, "strength": words.strength(s), "reasons": words.reasons(s), "flags": words.flags(s)}
            for s in found]


@router.get("/find")
def find_page(request: Request, caller: AnyCaller) -> Response:
    return page(request, "find.html", _context(caller, _defaults(caller)), caller=caller)


@router.post("/find")
async def find(request: Request, caller: AnyCaller) -> Response:
    typed, match, found = await _search(request, caller)
    errors = typed.pop("_errors", {})
    context = _context(caller, typed, errors=errors, searched=match is not None, cards=_cards(found), match=match)
    return page(request, "find.html", context, caller=caller, status=422 if errors else 200, part="_find_results.html")


CSV_COLUMNS = ("rank", "name", "country", "institution", "match", "why", "note", "profile_id")


@router.post("/find.csv")
async def find_csv(request: Request, caller: AnyCaller) -> Response:
    typed, match, found = await _search(request, caller)
    if errors := typed.pop("_errors", {}):
        context = _context(caller, typed, errors=errors, searched=False, cards=[], match=None)
        return page(request, "find.html", context, caller=caller, status=422)
    rows = [[rank, s.name, words.country(s.country), s.institution, words.strength(s).words,
             " ".join(words.reasons(s)), " ".join(words.flags(s)), s.id] for rank, s in enumerate(found, 1)]
    return Response(csv_bytes(CSV_COLUMNS, rows), media_type="text/csv; charset=utf-8", headers={
        **HEADERS, "Content-Disposition": 'attachment; filename="partners.csv"'})
