"""ASGI middleware: a request body size limit that also holds for chunked uploads, an access log
that records the route template, never the concrete path (no profile ids in logs), and a plain 500
for anything unexpected, logged without the exception's message (it may quote the request)."""

from __future__ import annotations

import json
import logging
import time
import traceback
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["AccessLog", "BodyLimit", "ServerErrors"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("matcher.access")
errors_log = logging.getLogger("matcher.api")


class BodyLimit:
    """413 for a body over `limit` bytes (`limits` per path prefix override it).

    The body is read before the app sees it, so the limit holds for chunked uploads without a
    Content-Length too, and the app never parses a body that is too large.
    """

    def __init__(self, app: App, limit: int, limits: dict[str, int] | None = None):
        self.app = app
        self.limit = limit
        self.limits = limits or {}

    def _limit_for(self, path: str) -> int:
        return next((v for prefix, v in self.limits.items() if path.startswith(prefix)), self.limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit_for(scope["path"])
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _reject(send, limit)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message], receive), send)  # a disconnect: let the app see it
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > limit:
                await _reject(send, limit)
                return
            if not message.get("more_body", False):
                break
        body = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay([body], receive), send)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def next_message() -> Message:
        return pending.pop(0) if pending else await receive()

    return next_message


async def _reject(send: Send, limit: int) -> None:
    body = json.dumps({"detail": f"request body larger than {limit} bytes", "error": "PayloadTooLarge"}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class AccessLog:
    """One line per request: method, route template, status, milliseconds."""

    def __init__(self, app: App):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            log.info("%s %s %s %.1fms", scope["method"], _template(scope), status,
                     (time.perf_counter() - started) * 1000)


def _template(scope: Scope) -> str:
    return getattr(scope.get("route"), "path", "(unrouted)")


class ServerErrors:
    """A 500 with a plain body for any exception the app lets through.

    The exception ends here: a server that saw it would close the connection (a client's next
    request on it would fail) and log its message, which can quote request data. The log line
    gives the exception's type, route template and stack frames, never its message or the body.
    """

    def __init__(self, app: App):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as err:
            frames = "".join(traceback.StackSummary.extract(traceback.walk_tb(err.__traceback__)).format())
            errors_log.error("unexpected %s on %s %s\n%s", type(err).__name__, scope["method"], _template(scope),
                             frames.rstrip())
            if not started:  # else the response is cut short and the server closes the connection
                body = json.dumps({"detail": "internal error", "error": "InternalError"}).encode()
                await send({"type": "http.response.start", "status": 500, "headers": [
                    (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
