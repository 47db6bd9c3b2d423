"""Routes of the `/v1` API: profiles, matching, consortia, keys, audit, reference data."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response

from api.deps import ERRORS, AuditDep, EngineDep, KeysDep, ServicesDep
from api.fairness import compute
from api.schemas import (
    ConsortiumIn,
    ConsortiumOut,
    GroupOut,
    KeyIn,
    KeyOut,
    MatchIn,
    MatchOut,
    ProfileIn,
    ProfileOut,
    ProfileSummary,
)
from api.security import AdminKey, AdminOrOwnerKey, AgencyKey, AnyKey, ReadKey
from matcher.assemble.calls import CallRequest, team_size
from matcher.domain.countries import GROUPS
from matcher.domain.errors import InvalidProfile, MatcherError
from matcher.domain.profiles import Profile, parse_profile, profile_to_dict
from matcher.rank.matching import no_close_match
from matcher.service import profiles
from matcher.service.engine import MatchRequest

__all__ = ["router"]

router = APIRouter(prefix="/v1", responses=ERRORS)


def _out(profile: Profile, *, private: bool) -> dict[str, Any]:
    """A profile as returned: private fields only in `private`, and only when the caller may see them."""
    out = profile_to_dict(profile)
    out["private"] = dict(profile.private) if private else None
    return out


@router.post("/profiles", response_model=ProfileOut, status_code=201, tags=["profiles"])
def create_profile(body: ProfileIn, services: ServicesDep, key: AdminKey) -> dict[str, Any]:
    profile = profiles.create(services, parse_profile(body.model_dump(exclude_none=True)))
    return _out(profile, private=True)


@router.get("/profiles", response_model=list[ProfileSummary], tags=["profiles"])
def list_profiles(
    engine: EngineDep,
    key: ReadKey,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[ProfileSummary]:
    """Every profile for read, agency and admin keys; an owner key lists only its own profile."""
    if key.scope == "owner":
        own = engine.store.get(str(key.owner)) if offset == 0 else None
        return [ProfileSummary(id=own.id, name=own.name, kind=own.kind, country=own.country)] if own else []
    rows = engine.store.list_ids(offset=offset, limit=limit)
    return [ProfileSummary(id=i, name=n, kind=k, country=c) for i, n, k, c in rows]


@router.get("/profiles/{profile_id}", response_model=ProfileOut, tags=["profiles"])
def read_profile(profile_id: str, engine: EngineDep, key: ReadKey) -> dict[str, Any]:
    """Any profile for read, agency and admin keys (private fields for admin only); an owner key
    reads only its own profile, private fields included."""
    if key.scope == "owner" and not key.owns(profile_id):
        raise HTTPException(403, "an owner key reads only its own profile")
    profile = engine.store.get(profile_id)
    return _out(profile, private=key.allows("admin") or key.owns(profile_id))


@router.put("/profiles/{profile_id}", response_model=ProfileOut, tags=["profiles"])
def replace_profile(
    profile_id: str, body: ProfileIn, services: ServicesDep, key: AdminOrOwnerKey
) -> dict[str, Any]:
    if body.id != profile_id:  # before parsing: the clearest message for the commonest mistake
        raise InvalidProfile(f"body id '{body.id}' differs from the path id '{profile_id}'", field="id")
    profile = profiles.replace(services, profile_id, parse_profile(body.model_dump(exclude_none=True)))
    return _out(profile, private=True)


@router.delete("/profiles/{profile_id}", status_code=204, tags=["profiles"])
def delete_profile(profile_id: str, services: ServicesDep, key: AdminOrOwnerKey) -> Response:
    """Erasure: the profile, its works, its vectors, cached embeddings no one else uses, its keys,
    its rows in kept batch results; absent from every match at once."""
    profiles.erase(services, profile_id, key_id=key.key_id, scope=key.scope)
    return Response(status_code=204)


@router.post("/match", response_model=MatchOut, tags=["matching"])
def match(
    body: MatchIn, http_request: Request, engine: EngineDep, audit: AuditDep, key: ReadKey
) -> dict[str, Any]:
    request = MatchRequest(
        profile_id=body.profile_id, text=body.text, k=body.k, countries=tuple(body.countries),
        exclude_countries=tuple(body.exclude_countries), exclude_own_country=body.exclude_own_country,
        exclude_coauthors=body.exclude_coauthors, exclude_same_institution=body.exclude_same_institution,
        kinds=tuple(body.kinds), diversity=body.diversity,
    )
    state = http_request.app.state
    suggestions = compute(state.quick, state.limiter, key.key_id, lambda: engine.match(request))
    audit.record("match", key_id=key.key_id, scope=key.scope, by_id=body.profile_id is not None,
                 by_text=body.text is not None, k=body.k, results=len(suggestions))
    note = None
    if len(suggestions) < body.k:
        note = f"only {len(suggestions)} candidates satisfy the rules (asked for {body.k})"
    return {"suggestions": [dataclasses.asdict(s) for s in suggestions], "eligible_note": note,
            "note": no_close_match(suggestions)}


@router.post("/consortia", response_model=ConsortiumOut, tags=["consortia"])
def consortia(
    body: ConsortiumIn, http_request: Request, engine: EngineDep, audit: AuditDep, key: AgencyKey
) -> dict[str, Any]:
    low, high = team_size(body.size, body.min_size, body.max_size)
    request = CallRequest(
        call_text=body.call_text, aspects=tuple((a.text, a.weight) for a in body.aspects),
        min_size=low, max_size=high, min_countries=body.min_countries, max_per_country=body.max_per_country,
        group_min=tuple(body.group_min), must_include=tuple(body.must_include), exclude=tuple(body.exclude),
        pool_countries=tuple(body.pool_countries), kinds=tuple(body.kinds),
        exclude_conflicts=body.exclude_conflicts, teams=body.teams, exact=body.exact,
        gap_threshold=body.gap_threshold, min_difference=body.min_difference,
    )
    state = http_request.app.state
    result = compute(state.heavy, state.limiter, key.key_id, lambda: engine.assemble(request))
    audit.record("consortium", key_id=key.key_id, scope=key.scope, aspects=len(result.aspects),
                 teams=len(result.teams), exact=body.exact)
    return dataclasses.asdict(result)


@router.post("/keys", response_model=KeyOut, status_code=201, tags=["keys"])
def create_key(body: KeyIn, keys: KeysDep, key: AdminKey) -> KeyOut:
    try:
        made, secret = keys.create(body.scope, owner=body.owner, label=body.label)
    except MatcherError as err:
        raise HTTPException(422, str(err)) from None
    return KeyOut(key_id=made.key_id, scope=made.scope, owner=made.owner, label=made.label, key=secret)


@router.get("/keys", response_model=list[KeyOut], tags=["keys"])
def list_keys(keys: KeysDep, key: AdminKey) -> list[KeyOut]:
    return [KeyOut(key_id=k.key_id, scope=k.scope, owner=k.owner, label=k.label) for k in keys.list()]


@router.delete("/keys/{key_id}", status_code=204, tags=["keys"])
def revoke_key(key_id: str, keys: KeysDep, key: AdminKey) -> Response:
    if not keys.revoke(key_id):
        raise HTTPException(404, f"no active key '{key_id}'")
    return Response(status_code=204)


@router.get("/audit", tags=["keys"])
def audit_rows(
    audit: AuditDep, key: AdminKey, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[dict[str, object]]:
    return audit.rows(limit)


@router.get("/countries/groups", response_model=list[GroupOut], tags=["reference"])
def country_groups(key: AnyKey) -> list[GroupOut]:
    return [
        GroupOut(name=g.name, title=g.title, members=sorted(g.members), source=g.source, as_of=g.as_of)
        for g in GROUPS.values()
    ]
