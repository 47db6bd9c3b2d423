"""Compute from the pages goes through the API's bounded queues and is charged to the key's rate,
exactly as `/v1` requests are (`api.fairness`): matches in the quick queue, consortia and
uploads in the heavy one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, TypeVar

from fastapi import HTTPException, Request
from starlette.concurrency import run_in_threadpool

from api.fairness import compute
from api.web.access import Caller, WebError

__all__ = ["queued"]

T = TypeVar("T")


async def queued(request: Request, caller: Caller, queue: Literal["quick", "heavy"], work: Callable[[], T]) -> T:
    """`work()` in the app's `queue` (off the event loop), charged to the caller's key; a full
    queue is a page that says when to try again."""
    state = request.app.state
    try:
        return await run_in_threadpool(compute, getattr(state, queue), state.limiter, caller.key.key_id, work)
    except HTTPException as err:
        if err.status_code != 503:
            raise
        retry = (err.headers or {}).get("Retry-After", "5")
        raise WebError(503, "The service is busy",
                       f"Other large requests are being worked on. Try again in {retry} seconds.",
                       headers={"Retry-After": retry}) from None
