"""The HTTP API. `create_app(config)` builds it; the model and corpus load once, in the lifespan.

Endpoints that embed or score are plain `def`, so FastAPI runs them in its thread pool and the
event loop stays free. Domain errors map to 4xx bodies here and nowhere else; a 5xx body never
carries a stack trace.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse

from api.fairness import RateLimiter, WorkQueue
from api.middleware import AccessLog, BodyLimit, ServerErrors
from api.routes import router
from api.routes_agendas import router as agendas_router
from api.routes_batches import router as batches_router
from api.routes_import import router as import_router
from api.schemas import HealthOut
from api.settings import ApiConfig, load_api_config
from matcher.domain.errors import (
    InfeasibleBatch,
    InfeasibleConsortium,
    InvalidProfile,
    InvalidQuery,
    JobNotFound,
    MatcherError,
    ProfileExists,
    ProfileNotFound,
    StoreFull,
    UnknownCountry,
)
from matcher.service.bootstrap import Services, bootstrap
from matcher.service.config import Config
from matcher.service.engine import Engine
from matcher.store.buckets import SharedBuckets
from matcher.store.postgres import PostgresStore

__all__ = ["create_app"]

log = logging.getLogger("matcher.api")

_STATUS: dict[type[MatcherError], int] = {
    ProfileNotFound: 404,
    JobNotFound: 404,
    ProfileExists: 409,
    InvalidProfile: 422,
    InvalidQuery: 422,
    UnknownCountry: 422,
    InfeasibleConsortium: 422,
    InfeasibleBatch: 422,
    StoreFull: 507,
}


def _status_of(err: MatcherError) -> int:
    return next((status for kind, status in _STATUS.items() if isinstance(err, kind)), 400)


_UNICODE = "must be valid Unicode text; a field name or value holds a lone surrogate (U+D800 to U+DFFF)"


def _printable(text: str, limit: int = 200) -> str:
    """`text` cut to `limit` characters, lone surrogates replaced: always encodable as JSON."""
    return text[:limit].encode("utf-8", "replace").decode("utf-8")


def _problems(err: RequestValidationError) -> list[dict[str, Any]]:
    """Where and what, never the value: pydantic's `input` and `ctx` may hold the request's text or
    private fields, NaN or lone surrogates (which cannot even be written as JSON)."""
    return [
        {"loc": [p if isinstance(p, int) else _printable(str(p), 64) for p in e.get("loc", ())],
         "msg": _UNICODE if e.get("type") == "string_unicode" else
         _printable(str(e.get("msg", "")).removeprefix("Value error, ")),
         "type": _printable(str(e.get("type", "")), 64)}
        for e in err.errors()
    ]


def create_app(
    config: Config, *, services: Services | None = None, api: ApiConfig | None = None, warm: bool = True
) -> FastAPI:
    """The API over the services `bootstrap(config)` wires, or over `services` given (tests; they
    are not closed with the app); `warm` opens the matching state and loads the model now."""
    api = api or load_api_config()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.services = services or bootstrap(config)
        engine: Engine = app.state.services.engine
        engine.start_background()
        store = app.state.services.store
        shared = SharedBuckets(store) if isinstance(store, PostgresStore) else None
        app.state.limiter = RateLimiter(api.rate_limit_per_minute, unit_s=api.rate_limit_unit_s, shared=shared)
        interrupted = app.state.services.batches.fail_interrupted()
        if interrupted:
            log.warning("%d batch job(s) were running when the service stopped; marked failed", interrupted)
        # Compute (embedding, scoring, solving) runs in bounded queues: quick matches at most one per
        # core (more threads only fight over the GIL), heavy work (consortia, imports) in a queue of
        # its own, on threads of lower CPU priority, so it never holds the slots matches need.
        app.state.quick = WorkQueue("match", os.cpu_count() or 2, api.queue_depth)
        app.state.heavy = WorkQueue("heavy work", api.heavy_slots, api.heavy_queue_depth,
                                    nice=api.heavy_nice or None)
        if warm:
            _warm(engine)
        yield
        app.state.heavy.close()
        if services is None:
            app.state.services.close()
        else:
            engine.stop_background()
            app.state.services.batches.close()
            app.state.services.audit.flush()

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

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, err: RequestValidationError) -> JSONResponse:
        problems = _problems(err)
        body: dict[str, Any] = {"detail": problems, "error": "ValidationError"}
        where = [str(p) for p in problems[0]["loc"][1:]] if problems else []
        if where:
            body["field"] = ".".join(where)
        return JSONResponse(status_code=422, content=body)

    @app.get("/health", response_model=HealthOut, tags=["service"])
    async def health(request: Request) -> HealthOut:
        """Answers from memory only (no database, no lock), so it stays fast under any load."""
        engine_: Engine = request.app.state.services.engine
        view, info = engine_.state.view(), engine_.state.snapshot
        full = request.app.state.services.store.space.full  # the last write failed for lack of space
        return HealthOut(
            status="degraded" if full else "ok", reason=str(StoreFull()) if full else None,
            profiles=engine_.active_profiles(), model=engine_.embedder.model_id,
            snapshot=None if info is None else info.name, generation=0 if view is None else view.generation,
            delta_rows=0 if view is None else len(view.delta),
        )

    app.include_router(import_router)  # before the router, so /import is not taken for a profile id
    app.include_router(router)
    app.include_router(batches_router)
    app.include_router(agendas_router)
    from api.web import install as install_web  # the pages for people, beside /v1 (api/web)
    install_web(app, api)
    if api.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(api.cors_origins), allow_methods=["*"],
                           allow_headers=["X-API-Key", "Content-Type"])
    uploads = {"/v1/profiles/import": api.max_upload_bytes, "/office": api.max_upload_bytes,
               "/office/agenda": api.max_upload_bytes}  # pool files
    app.add_middleware(BodyLimit, limit=api.max_body_bytes, limits=uploads)
    app.add_middleware(AccessLog)
    app.add_middleware(ServerErrors)  # outermost: unexpected errors end here, as a plain 500
    return app


def _warm(engine: Engine) -> None:
    """Open the matching state now (a snapshot load) while a thread loads the vector kernels, the
    lexical vocabulary and the model: queries by id are answered before the model is ready; the
    first text query waits for it."""
    threading.Thread(target=engine.warm, name="warm-up", daemon=True).start()
    try:
        engine.corpus()
    except MatcherError as err:  # an empty store can still take profile writes
        log.warning("%s", err)
