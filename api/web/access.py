"""Who is using a page: the session's key, its scope, its rate limit; and errors shown as pages.

The pages enforce the same access matrix as `/v1` (`api.security`): the same key store, the same
scopes (`ApiKey.allows`, `ApiKey.owns`), the same per-key rate limiter. A page a key may not open
answers 403 and says which kind of key it needs; no session sends the browser to the sign-in
page.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from starlette.datastructures import FormData

from api.web.session import Session
from api.web.state import web_state
from matcher.store.keys import ApiKey

__all__ = [
    "AgencyCaller", "AnyCaller", "Caller", "WebError", "checked_form", "needs", "safe_next",
    "signed_in",
]

SCOPE_WORDS = {
    "read": "a read key", "agency": "an agency key", "admin": "an admin key", "owner": "a profile owner's key",
}


class WebError(Exception):
    """An error shown as a page: what happened (`title`), what to change (`message`)."""

    def __init__(self, status: int, title: str, message: str, *, headers: dict[str, str] | None = None,
                 redirect: str | None = None, sign_out: bool = False):
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message
        self.headers = headers or {}
        self.redirect = redirect
        self.sign_out = sign_out


@dataclass(frozen=True)
class Caller:
    """A signed-in visitor: the verified key and the session (its CSRF token)."""

    key: ApiKey
    session: Session

    @property
    def csrf(self) -> str:
        return self.session.csrf


def safe_next(path: str | None) -> str:
    """A local path to return to after sign-in; anything else (another site) is the home page."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/find"
    return path


def signed_in(request: Request) -> Caller:
    """The caller of a page: the session's key, verified now; else off to the sign-in page."""
    web = web_state(request)
    session = web.signer.read(request)
    back = quote(request.url.path, safe="/")
    if session is None or not session.signed_in:
        raise WebError(401, "Please sign in", "Your session has ended or you have not signed in yet.",
                       redirect=f"/?next={back}")
    key = web.keys.get(session.key_id)
    if key is None:
        raise WebError(401, "Please sign in again",
                       "The key you signed in with is no longer valid (it was revoked or its profile erased).",
                       redirect="/?ended=1", sign_out=True)
    wait = request.app.state.limiter.wait_time(key.key_id)
    if wait > 0:
        seconds = math.ceil(wait)
        raise WebError(429, "Too many requests",
                       f"Your key has used its share of the service for now. Try again in {seconds} seconds.",
                       headers={"Retry-After": str(seconds)})
    request.state.key = key
    request.state.caller = Caller(key, session)
    return request.state.caller  # type: ignore[no-any-return]


def needs(scope: str) -> Callable[[Caller], Caller]:
    """A page for keys with `scope` (as `api.security.require`)."""

    def check(caller: Annotated[Caller, Depends(signed_in)]) -> Caller:
        if not caller.key.allows(scope):
            raise WebError(403, "This page needs another kind of key",
                           f"You signed in with {SCOPE_WORDS.get(caller.key.scope, 'a key')}; this page needs "
                           f"{SCOPE_WORDS[scope]}. Ask whoever gave you your key for one, then sign in with it.")
        return caller

    return check


async def checked_form(request: Request, session: Session) -> FormData:
    """The submitted form, once its CSRF token matches the session's; 403 otherwise."""
    form = await request.form()
    token = form.get("csrf")
    if not session.token_matches(token if isinstance(token, str) else request.headers.get("X-CSRF-Token")):
        raise WebError(403, "This form cannot be accepted",
                       "It has expired or was not sent from this site. Reload the page and send the form again.")
    return form


AnyCaller = Annotated[Caller, Depends(signed_in)]
AgencyCaller = Annotated[Caller, Depends(needs("agency"))]
