"""Profiles: "My profile" for a scientist's owner key (view, edit, download, erase), and the same
pages for any profile to the keys `/v1/profiles` lets open them.

Access is the API's: read, agency and admin keys view any profile (private fields for admin
only); an owner key views only its own, private fields included; only an admin key or the
profile's owner key may change or erase it. Writes and erasure are the same use cases
(`matcher.service.profiles.replace`, `.erase`)."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.web.access import AnyCaller, Caller, WebError, checked_form
from api.web.forms import FormError, flag, values
from api.web.pages import HEADERS, page, redirect
from api.web.profile_form import as_form, from_form, work_indices
from api.web.routes_people import ListCaller
from api.web.session import set_cookie
from api.web.state import web_state
from matcher.domain.errors import MatcherError, ProfileNotFound
from matcher.domain.profiles import Profile, profile_to_dict
from matcher.service import profiles
from matcher.service.bootstrap import Services

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _viewable(caller: Caller, profile_id: str) -> None:
    if caller.key.scope == "owner" and not caller.key.owns(profile_id):
        raise WebError(403, "This is not your profile", "A profile owner's key opens only its own profile.")


def _editable(caller: Caller, profile_id: str) -> None:
    if not (caller.key.allows("admin") or caller.key.owns(profile_id)):
        raise WebError(403, "You cannot change this profile",
                       "Only the profile's owner, signed in with their own key, or an administrator may change it.")


def _load(request: Request, profile_id: str) -> Profile:
    services: Services = request.app.state.services
    try:
        return services.store.get(profile_id)
    except ProfileNotFound:
        raise WebError(404, "No such profile",
                       f"There is no profile with the id “{profile_id}”. It may have been erased.") from None


def _private(caller: Caller, profile_id: str) -> bool:
    return caller.key.allows("admin") or caller.key.owns(profile_id)


@router.get("/me")
def me(request: Request, caller: AnyCaller) -> Response:
    return redirect(request, f"/profiles/{caller.key.owner}" if caller.key.scope == "owner" else "/profiles")


@router.get("/profiles")
def profile_list(request: Request, caller: ListCaller) -> Response:
    query = request.query_params.get("q", "").strip()[:200]
    web = web_state(request)
    found = []
    if query:
        try:
            found = web.people.search(request.app.state.services.engine.corpus(), query, 50)
        except MatcherError:
            found = []
    return page(request, "profiles.html", {"title": "Profiles", "query": query, "people": found}, caller=caller,
                part="_profile_list.html")


@router.get("/profiles/work-row")
def work_row(request: Request, caller: AnyCaller) -> Response:
    """One more blank work in the edit form (htmx), numbered `i`."""
    try:
        i = min(max(int(request.query_params.get("i", "0")), 0), 999)
    except ValueError:
        i = 0
    return page(request, "_work_row.html", {"i": i, "form": {}, "errors": {}, "next": i + 1}, caller=caller)


@router.get("/profiles/{profile_id}")
def profile_page(request: Request, profile_id: str, caller: AnyCaller) -> Response:
    _viewable(caller, profile_id)
    profile = _load(request, profile_id)
    return page(request, "profile.html", {
        "title": profile.name, "profile": profile, "private": profile.private if _private(caller, profile_id) else {},
        "can_edit": caller.key.allows("admin") or caller.key.owns(profile_id), "mine": caller.key.owns(profile_id),
        "saved": "saved" in request.query_params}, caller=caller)


@router.get("/profiles/{profile_id}/data.json")
def profile_data(request: Request, profile_id: str, caller: AnyCaller) -> Response:
    """The profile as stored (the interchange format); private fields for its owner and admins."""
    _viewable(caller, profile_id)
    profile = _load(request, profile_id)
    body = json.dumps(profile_to_dict(profile, private=_private(caller, profile_id)), ensure_ascii=False, indent=2)
    return Response(body.encode(), media_type="application/json", headers={
        **HEADERS, "Content-Disposition": f'attachment; filename="profile-{profile_id}.json"'})


def _edit_page(request: Request, caller: Caller, profile: Profile, form: dict[str, object],
               errors: dict[str, str], status: int = 200) -> Response:
    indices = work_indices(form)
    blank = max(indices, default=-1) + 1
    return page(request, "profile_edit.html", {
        "title": f"Change {profile.name}", "profile": profile, "form": form, "errors": errors,
        "works": indices, "blank": blank, "private": _private(caller, profile.id)}, caller=caller, status=status)


@router.get("/profiles/{profile_id}/edit")
def edit_page(request: Request, profile_id: str, caller: AnyCaller) -> Response:
    _editable(caller, profile_id)
    profile = _load(request, profile_id)
    return _edit_page(request, caller, profile, as_form(profile), {})


@router.post("/profiles/{profile_id}/edit")
async def edit(request: Request, profile_id: str, caller: AnyCaller) -> Response:
    _editable(caller, profile_id)
    form = await checked_form(request, caller.session)
    profile = _load(request, profile_id)
    services: Services = request.app.state.services
    try:
        changed = from_form(profile_id, form)
        await run_in_threadpool(profiles.replace, services, profile_id, changed)
    except FormError as err:
        return _edit_page(request, caller, profile, values(form), {err.field: err.message}, status=422)
    except MatcherError as err:
        return _edit_page(request, caller, profile, values(form), {"name": str(err)}, status=422)
    return redirect(request, f"/profiles/{profile_id}?saved=1")


@router.get("/profiles/{profile_id}/erase")
def erase_page(request: Request, profile_id: str, caller: AnyCaller) -> Response:
    _editable(caller, profile_id)
    profile = _load(request, profile_id)
    return page(request, "profile_erase.html", {"title": f"Erase {profile.name}", "profile": profile,
                                                "mine": caller.key.owns(profile_id), "errors": {}}, caller=caller)


@router.post("/profiles/{profile_id}/erase")
async def erase(request: Request, profile_id: str, caller: AnyCaller) -> Response:
    _editable(caller, profile_id)
    form = await checked_form(request, caller.session)
    profile = _load(request, profile_id)
    mine = caller.key.owns(profile_id)
    if not flag(form, "confirm"):
        return page(request, "profile_erase.html", {
            "title": f"Erase {profile.name}", "profile": profile, "mine": mine,
            "errors": {"confirm": "Tick the box to confirm that the profile should be erased for good."}},
            caller=caller, status=422)
    services: Services = request.app.state.services
    await run_in_threadpool(profiles.erase, services, profile_id, key_id=caller.key.key_id, scope=caller.key.scope)
    web = web_state(request)
    web.keys.forget()  # the profile's owner keys were revoked just now
    if mine:
        response = redirect(request, "/?erased=1")
        set_cookie(response, request, web.signer, None)
        return response
    return page(request, "profile_erased.html", {"title": "Profile erased", "name": profile.name}, caller=caller)
