"""What the pages share across requests, made at the first request (the store opens in the app's
lifespan, after the routes are in place): the session signer, the key look-up, the people index,
the kept answers, and the body limit uploads live within."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from fastapi import Request

from api.web.kept import Kept
from api.web.keys import KeyLookup
from api.web.people import PeopleIndex
from api.web.session import SessionSigner, session_secret
from matcher.service.bootstrap import Services
from matcher.store.postgres import PostgresStore

__all__ = ["WebState", "web_state"]


@dataclass
class WebState:
    signer: SessionSigner
    keys: KeyLookup
    people: PeopleIndex
    kept: Kept
    upload_limit: int  # bytes: the request body limit of the app (api.settings.max_body_bytes)


def web_state(request: Request) -> WebState:
    app_state = request.app.state
    state: WebState | None = getattr(app_state, "web", None)
    if state is not None:
        return state
    lock: threading.Lock = app_state.web_lock
    with lock:
        state = getattr(app_state, "web", None)
        if state is None:
            services: Services = app_state.services
            state = WebState(
                signer=SessionSigner(_secret(services)), keys=KeyLookup(services.keys),
                people=PeopleIndex(), kept=Kept(), upload_limit=app_state.web_upload_limit,
            )
            app_state.web = state
    return state


def _secret(services: Services) -> bytes:
    """The session signing secret: in the database when it is shared (every replica signs and
    reads the same sessions), else beside the SQLite store (`session_secret`)."""
    store = services.store
    if isinstance(store, PostgresStore):
        return store.shared_secret("web-session")
    return session_secret(services.config.home)
