"""Adding the pages to the app: their routes, their static files, and errors shown as pages."""

from __future__ import annotations

import threading
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

from api.settings import ApiConfig
from api.web import (
    routes_agenda,
    routes_auth,
    routes_consortia,
    routes_find,
    routes_office,
    routes_people,
    routes_profile,
)
from api.web.access import WebError
from api.web.pages import error_page

__all__ = ["install"]

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI, api: ApiConfig) -> None:
    """The pages at `/` and beside it, static files at `/static`; `/v1` is left as it is."""
    app.state.web_lock = threading.Lock()
    app.state.web_upload_limit = api.max_body_bytes
    for module in (routes_auth, routes_find, routes_people, routes_profile, routes_consortia, routes_office,
                   routes_agenda):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    async def show(request: Request, err: Exception) -> Response:
        assert isinstance(err, WebError)
        return error_page(request, err)

    app.add_exception_handler(WebError, show)
