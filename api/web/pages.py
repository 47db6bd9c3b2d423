"""Rendering pages: the templates, the headers every page carries, and errors as pages.

A page is rendered whole for a plain browser request; an htmx request (`HX-Request`) for a part
of it gets only that part's template. Every page is private to its reader (`no-store`) and
runs no script but the site's own files (a Content-Security-Policy without inline scripts).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse, RedirectResponse, Response

from api.web import words
from api.web.access import Caller, WebError
from api.web.report import country_label
from api.web.session import set_cookie
from api.web.state import web_state

__all__ = ["HEADERS", "error_page", "is_htmx", "page", "redirect", "templates"]

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.globals.update(
    country=words.country, strength=words.strength, coverage_level=words.coverage_level,
    member_level=words.member_level, plural=words.plural, scope_words=words.scope_words,
    country_label=country_label, role_words=words.ROLE_WORDS,
)

HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ),
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def page(
    request: Request, template: str, context: dict[str, Any] | None = None, *, caller: Caller | None = None,
    status: int = 200, part: str | None = None, headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """`template` rendered for `caller`; `part` (a template of a piece of the page) instead when
    htmx asks for it."""
    name = part if part is not None and is_htmx(request) else template
    values = {"caller": caller, "csrf": caller.csrf if caller else (context or {}).get("csrf", ""), **(context or {})}
    response = templates.TemplateResponse(request, name, values, status_code=status)
    response.headers.update(HEADERS)
    response.headers.update(headers or {})
    return response


def redirect(request: Request, url: str) -> Response:
    """To `url` after a form: a 303 for a browser, an `HX-Redirect` for htmx."""
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": url, **HEADERS})
    return RedirectResponse(url, status_code=303, headers=HEADERS)


def error_page(request: Request, err: WebError) -> Response:
    """A `WebError` as a page (or a redirect to sign-in), with the same words for htmx and not."""
    if err.redirect is not None:
        response = redirect(request, err.redirect)
    else:
        caller = getattr(request.state, "caller", None)
        response = page(request, "error.html", {"title": err.title, "message": err.message}, caller=caller,
                        status=err.status, part="_error.html", headers=err.headers)
        if is_htmx(request):  # shown where the answer was to go
            response.headers["HX-Retarget"] = "#main"
            response.headers["HX-Reswap"] = "innerHTML"
    if err.sign_out:
        set_cookie(response, request, web_state(request).signer, None)
    return response
