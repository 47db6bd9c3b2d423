"""The HTTP API. `create_app(config)` builds it; the model and corpus load once, in the lifespan.

Endpoints that embed or score are plain `def`, so FastAPI runs them in its thread pool and the
event loop stays free. Domain errors map to 4xx bodies here and nowhere else.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request, Response
from fastapi.responses import JSONResponse

from api.schemas import (
    ConsortiumIn,
    ConsortiumOut,
    GroupOut,
    HealthOut,
    MatchIn,
    MatchOut,
    ProfileIn,
    ProfileOut,
    ProfileSummary,
)
from matcher.calls import CallRequest
from matcher.config import Config
from matcher.countries import GROUPS
from matcher.engine import Engine, MatchRequest
from matcher.errors import (
    InfeasibleBatch,
    InfeasibleConsortium,
    InvalidProfile,
    InvalidQuery,
    MatcherError,
    ProfileExists,
    ProfileNotFound,
    UnknownCountry,
)
from matcher.profiles import parse_profile, profile_to_dict

__all__ = ["create_app"]

log = logging.getLogger("matcher.api")

_STATUS: dict[type[MatcherError], int] = {
    ProfileNotFound: 404,
    ProfileExists: 409,
    InvalidProfile: 422,
    InvalidQuery: 422,
    UnknownCountry: 422,
    InfeasibleConsortium: 422,
    InfeasibleBatch: 422,
}


def _status_of(err: MatcherError) -> int:
    for kind, status in _STATUS.items():
        if isinstance(err, kind):
            return status
    return 400


def create_app(config: Config, *, engine: Engine | None = None, warm: bool = True) -> FastAPI:
    """The API over one engine. Pass `engine` to reuse one (tests); `warm` loads model and corpus now."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.engine = engine or Engine(config)
        if warm:
            _warm(app.state.engine)
        yield
        app.state.engine.store.close()

    app = FastAPI(
        title="Research partner matcher",
        version="1",
        summary="Cross-border partner suggestions for researchers, agencies and programme offices.",
        lifespan=lifespan,
    )

    @app.exception_handler(MatcherError)
    async def _domain_error(request: Request, err: MatcherError) -> JSONResponse:
        body: dict[str, Any] = {"detail": str(err), "error": type(err).__name__}
        if isinstance(err, InvalidProfile) and err.field:
            body["field"] = err.field
        return JSONResponse(status_code=_status_of(err), content=body)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, err: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse(status_code=500, content={"detail": "internal error", "error": "InternalError"})

    _routes(app)
    return app


def _warm(engine: Engine) -> None:
    try:
        engine.corpus()
    except MatcherError as err:  # an empty store can still take profile writes
        log.warning("%s", err)
    _ = engine.embedder.embedder  # load the model now, not on the first text query


def get_engine(request: Request) -> Engine:
    return request.app.state.engine  # type: ignore[no-any-return]


EngineDep = Annotated[Engine, Depends(get_engine)]


def _routes(app: FastAPI) -> None:
    @app.get("/health", response_model=HealthOut, tags=["service"])
    async def health(request: Request) -> HealthOut:
        engine: Engine = request.app.state.engine
        return HealthOut(status="ok", profiles=engine.store.count(), model=engine.embedder.model_id)

    @app.post("/v1/profiles", response_model=ProfileOut, status_code=201, tags=["profiles"])
    def create_profile(body: ProfileIn, engine: EngineDep) -> dict[str, Any]:
        profile = parse_profile(body.model_dump(exclude_none=True))
        engine.add([profile], create_only=True)
        return profile_to_dict(profile)

    @app.get("/v1/profiles", response_model=list[ProfileSummary], tags=["profiles"])
    def list_profiles(
        engine: EngineDep,
        offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[ProfileSummary]:
        rows = engine.store.list_ids(offset=offset, limit=limit)
        return [ProfileSummary(id=i, name=n, kind=k, country=c) for i, n, k, c in rows]

    @app.get("/v1/profiles/{profile_id}", response_model=ProfileOut, tags=["profiles"])
    def read_profile(profile_id: str, engine: EngineDep) -> dict[str, Any]:
        return profile_to_dict(engine.store.get(profile_id))

    @app.put("/v1/profiles/{profile_id}", response_model=ProfileOut, tags=["profiles"])
    def replace_profile(profile_id: str, body: ProfileIn, engine: EngineDep) -> dict[str, Any]:
        if body.id != profile_id:
            raise InvalidProfile(f"body id '{body.id}' differs from the path id '{profile_id}'", field="id")
        if not engine.store.exists(profile_id):
            raise ProfileNotFound(profile_id)
        profile = parse_profile(body.model_dump(exclude_none=True))
        engine.add([profile])
        return profile_to_dict(profile)

    @app.delete("/v1/profiles/{profile_id}", status_code=204, tags=["profiles"])
    def delete_profile(profile_id: str, engine: EngineDep) -> Response:
        engine.delete(profile_id)
        return Response(status_code=204)

    @app.post("/v1/match", response_model=MatchOut, tags=["matching"])
    def match(body: MatchIn, engine: EngineDep) -> dict[str, Any]:
        request = MatchRequest(
            profile_id=body.profile_id,
            text=body.text,
            k=body.k,
            countries=tuple(body.countries),
            exclude_countries=tuple(body.exclude_countries),
            exclude_own_country=body.exclude_own_country,
            exclude_coauthors=body.exclude_coauthors,
            exclude_same_institution=body.exclude_same_institution,
            kinds=tuple(body.kinds),
            diversity=body.diversity,
        )
        suggestions = engine.match(request)
        note = None
        if len(suggestions) < body.k:
            note = f"only {len(suggestions)} candidates satisfy the rules (asked for {body.k})"
        return {"suggestions": [dataclasses.asdict(s) for s in suggestions], "eligible_note": note}

    @app.post("/v1/consortia", response_model=ConsortiumOut, tags=["consortia"])
    def consortia(body: ConsortiumIn, engine: EngineDep) -> dict[str, Any]:
        low = body.min_size or body.size or body.max_size or 5
        high = body.max_size or body.size or max(low, 5)
        request = CallRequest(
            call_text=body.call_text, aspects=tuple((a.text, a.weight) for a in body.aspects),
            min_size=low, max_size=high, min_countries=body.min_countries, max_per_country=body.max_per_country,
            group_min=tuple(body.group_min), must_include=tuple(body.must_include), exclude=tuple(body.exclude),
            pool_countries=tuple(body.pool_countries), kinds=tuple(body.kinds),
            exclude_conflicts=body.exclude_conflicts, teams=body.teams, exact=body.exact,
            gap_threshold=body.gap_threshold,
        )
        return dataclasses.asdict(engine.assemble(request))

    @app.get("/v1/countries/groups", response_model=list[GroupOut], tags=["reference"])
    async def country_groups() -> list[GroupOut]:
        return [
            GroupOut(name=g.name, title=g.title, members=sorted(g.members), source=g.source, as_of=g.as_of)
            for g in GROUPS.values()
        ]
