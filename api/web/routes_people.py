"""Search-as-you-type for people (the pickers of the find and consortium pages) and the profile
list. Listing other people's profiles is what `GET /v1/profiles` allows: read, agency and admin
keys; an owner key sees only its own profile."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from api.web.access import Caller, WebError, needs
from api.web.pages import page
from api.web.people import Person
from api.web.state import web_state
from matcher.domain.errors import MatcherError
from matcher.service.engine import Engine

__all__ = ["PICKERS", "Picker", "ListCaller", "chosen_people", "router"]

router = APIRouter(include_in_schema=False)
LIMIT = 8


@dataclass(frozen=True)
class Picker:
    label: str
    hint: str
    multiple: bool


PICKERS = {
    "profile": Picker("A profile (optional)", "Type part of a name, or an id, and choose the person.", False),
    "must_include": Picker("Members the teams must include",
                           "Type part of a name and add the person; untick to remove.", True),
    "excluded": Picker("People to leave out of every team", "Type part of a name and add the person.", True),
}


def lister(caller: Annotated[Caller, Depends(needs("read"))]) -> Caller:
    if caller.key.scope == "owner":
        raise WebError(403, "This page needs another kind of key",
                       "A profile owner's key opens only its own profile. Go to “My profile”.")
    return caller


ListCaller = Annotated[Caller, Depends(lister)]


def _picker(request: Request) -> tuple[str, Picker]:
    field = request.query_params.get("field", "")
    if field not in PICKERS:
        raise WebError(404, "Not found", "This list does not exist. Reload the page.")
    return field, PICKERS[field]


def chosen_people(request: Request, ids: list[str]) -> list[Person]:
    """The people with these ids, in order, once each (ids no longer in the pool left out)."""
    engine: Engine = request.app.state.services.engine
    try:
        corpus = engine.corpus()
    except MatcherError:
        return []
    people = web_state(request).people
    out: dict[str, Person] = {}
    for pid in ids:
        if pid not in out and corpus.row_of.get(pid) is not None:
            out[pid] = people.resolve(corpus, pid)
    return list(out.values())


@router.get("/people")
def people_options(request: Request, caller: ListCaller) -> Response:
    field, picker = _picker(request)
    query = (request.query_params.get(field + "_q") if picker.multiple else request.query_params.get(field)) or ""
    engine: Engine = request.app.state.services.engine
    try:
        found = web_state(request).people.search(engine.corpus(), query[:200], LIMIT) if query.strip() else []
    except MatcherError:  # an empty store: nobody to find
        found = []
    return page(request, "_people_options.html", {"people": found, "query": query.strip(), "field": field,
                                                  "multiple": "1" if picker.multiple else "0", "limit": LIMIT},
                caller=caller)


@router.get("/people/pick")
def people_pick(request: Request, caller: ListCaller) -> Response:
    """The picker again, with the chosen person added (several) or filled in (one)."""
    field, picker = _picker(request)
    picked = request.query_params.get("id", "")
    if picker.multiple:
        chosen = chosen_people(request, [*request.query_params.getlist(field), picked])
        query = ""
    else:
        chosen, query = [], picked
    return page(request, "_picker.html", {"field": field, "label": picker.label, "hint": picker.hint,
                                          "multiple": picker.multiple, "chosen": chosen, "query": query,
                                          "focus": True, "errors": {}}, caller=caller)
