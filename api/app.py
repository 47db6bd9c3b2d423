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
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse

from api.middleware import AccessLog, BodyLimit
from api.routes import router
from api.routes_batches import router as batches_router
from api.routes_import import router as import_router
from api.schemas import HealthOut
from api.security import RateLimiter
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
    UnknownCountry,
)
from matcher.service.bootstrap import Services, bootstrap
from matcher.service.config import Config
from matcher.service.engine import Engine

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
}


def _status_of(err: MatcherError) -> int:
    return next((status for kind, status in _STATUS.items() if isinstance(err, kind)), 400)


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
        app.state.limiter = RateLimiter(api.rate_limit_per_minute)
        interrupted = app.state.services.batches.fail_interrupted()
        if interrupted:
            log.warning("%d batch job(s) were running when the service stopped; marked failed", interrupted)
        # CPU-bound work (embedding, scoring) runs at most one per core at a time: more threads only
        # fight over the GIL and starve the event loop; waiting threads release it.
        app.state.cpu_slots = threading.BoundedSemaphore(os.cpu_count() or 2)
        if warm:
            _warm(engine)
        yield
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

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, err: Exception) -> JSONResponse:
        log.error("unexpected %s on %s", type(err).__name__, request.method, exc_info=err)
        return JSONResponse(status_code=500, content={"detail": "internal error", "error": "InternalError"})

    @app.get("/health", response_model=HealthOut, tags=["service"])
    async def health(request: Request) -> HealthOut:
        """Answers from memory only (no database, no lock), so it stays fast under any load."""
        engine_: Engine = request.app.state.services.engine
        view, info = engine_.state.view(), engine_.state.snapshot
        return HealthOut(
            status="ok", profiles=engine_.active_profiles(), model=engine_.embedder.model_id,
            snapshot=None if info is None else info.name, generation=0 if view is None else view.generation,
            delta_rows=0 if view is None else len(view.delta),
        )

    app.include_router(import_router)  # before the router, so /import is not taken for a profile id
    app.include_router(router)
    app.include_router(batches_router)
    if api.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(api.cors_origins), allow_methods=["*"],
                           allow_headers=["X-API-Key", "Content-Type"])
    app.add_middleware(BodyLimit, limit=api.max_body_bytes, limits={"/v1/profiles/import": api.max_upload_bytes})
    app.add_middleware(AccessLog)
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
