"""Signing in and out: the home page is the sign-in page until a key is pasted."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.web.access import AnyCaller, checked_form, safe_next
from api.web.pages import page, redirect
from api.web.session import Session, set_cookie
from api.web.state import web_state
from matcher.service.bootstrap import Services

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

NOTICES = {
    "signed_out": "You have signed out.",
    "ended": "Your key is no longer valid, so you were signed out. Sign in with another key.",
    "erased": "Your profile has been erased, and the key that belonged to it no longer works.",
}


def _sign_in_page(request: Request, session: Session | None, *, error: str | None = None, nxt: str = "/find",
                  status: int = 200) -> Response:
    """The sign-in form, under a session without a key (made now if there is none)."""
    anonymous = session if session is not None and not session.signed_in else Session.new()
    notice = next((text for name, text in NOTICES.items() if name in request.query_params), None)
    response = page(request, "signin.html", {"csrf": anonymous.csrf, "next": nxt, "error": error, "notice": notice,
                                             "title": "Sign in"}, status=status)
    set_cookie(response, request, web_state(request).signer, anonymous)
    return response


@router.get("/")
def home(request: Request) -> Response:
    web = web_state(request)
    session = web.signer.read(request)
    if session is not None and session.signed_in and web.keys.get(session.key_id) is not None:
        return redirect(request, "/find")
    return _sign_in_page(request, session, nxt=safe_next(request.query_params.get("next")))


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    web = web_state(request)
    session = web.signer.read(request)
    if session is None:  # the form's session expired (or cookies are off)
        return _sign_in_page(request, None, status=400, error=(
            "The sign-in form had expired. Paste your key again. If this keeps happening, allow cookies "
            "for this site: signing in needs one."))
    form = await checked_form(request, session)
    nxt = safe_next(str(form.get("next") or ""))
    secret = str(form.get("key") or "").strip()
    services: Services = request.app.state.services
    key = await run_in_threadpool(services.keys.verify, secret) if secret else None
    if key is None:
        error = ("Paste your access key: the field was empty." if not secret else
                 "This key was not recognised. Check that you pasted all of it (it starts with mk_), "
                 "or ask whoever gave it to you whether it is still valid.")
        return _sign_in_page(request, session, error=error, nxt=nxt, status=401)
    response = redirect(request, nxt)
    set_cookie(response, request, web.signer, Session.new(key.key_id))  # a new token: nothing carries over
    return response


@router.post("/sign-out")
async def sign_out(request: Request, caller: AnyCaller) -> Response:
    await checked_form(request, caller.session)
    response = redirect(request, "/?signed_out=1")
    set_cookie(response, request, web_state(request).signer, None)
    return response
