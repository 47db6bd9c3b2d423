"""Fair sharing: the rate limit weighs work, heavy work has its own bounded queue, and a
consortium request's solver time is bounded with a labelled partial answer."""

from __future__ import annotations

import os
import threading
import time

import pytest
from fastapi import HTTPException
from fastapi.testclient import TestClient

from api.app import create_app
from api.fairness import RateLimiter, WorkQueue, compute
from api.settings import ApiConfig
from matcher.assemble.calls import CallRequest
from matcher.store.keys import KeyStore


def test_a_request_pays_for_the_compute_it_used():
    limiter = RateLimiter(60, unit_s=0.1)  # one token a second, 60 at most
    assert limiter.wait_time("heavy") == 0 and limiter.wait_time("quick") == 0
    limiter.charge("heavy", 10.0)  # ten seconds of compute: 99 more tokens than the request's one
    limiter.charge("quick", 0.01)  # under one unit: nothing more
    assert limiter.wait_time("heavy") > 30  # in debt: waits until it is paid back
    assert limiter.wait_time("quick") == 0


def test_a_full_queue_refuses_at_once_with_retry_after():
    queue = WorkQueue("heavy work", width=1, depth=1, retry_after_s=7)
    inside, release = threading.Event(), threading.Event()

    def hold() -> None:
        with queue.slot():
            inside.set()
            release.wait(10)

    holders = [threading.Thread(target=hold) for _ in range(2)]  # one runs, one waits
    for t in holders:
        t.start()
    assert inside.wait(5)
    for _ in range(100):
        if queue.busy == 2:
            break
        time.sleep(0.01)
    with pytest.raises(HTTPException) as refused, queue.slot():
        pass
    assert refused.value.status_code == 503 and refused.value.headers == {"Retry-After": "7"}
    release.set()
    for t in holders:
        t.join()
    assert queue.busy == 0
    assert compute(queue, RateLimiter(600), "k", lambda: 42) == 42  # free again


def test_heavy_work_runs_on_threads_of_lower_priority():
    queue = WorkQueue("heavy work", width=1, depth=0, nice=5)
    try:
        def niceness() -> int:
            return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

        mine = niceness()
        assert queue.run(niceness) == min(mine + 5, 19) and niceness() == mine  # only the queue's threads
    finally:
        queue.close()


def test_heavy_requests_never_take_the_slots_matches_need(fake_engine, fake_services):
    """With the heavy queue held, a consortium is refused (503) and a match is answered at once."""
    admin = KeyStore(fake_engine.store).create("admin")[1]
    api = ApiConfig(rate_limit_per_minute=10_000, heavy_slots=1, heavy_queue_depth=0)
    call = {"call_text": "Groundwater aquifer transport. Drought crop irrigation.", "size": 3}
    with TestClient(create_app(fake_engine.config, services=fake_services, api=api),
                    headers={"X-API-Key": admin}) as c:
        assert c.post("/v1/consortia", json=call).status_code == 200
        heavy: WorkQueue = c.app.state.heavy  # type: ignore[attr-defined]
        with heavy.slot():  # a heavy request in progress
            refused = c.post("/v1/consortia", json=call)
            answered = c.post("/v1/match", json={"profile_id": "p001", "k": 3})
        assert refused.status_code == 503 and "Retry-After" in refused.headers
        assert "queue is full" in refused.json()["detail"]
        assert answered.status_code == 200 and answered.json()["suggestions"]


def test_a_consortium_over_its_solver_budget_is_a_labelled_partial_answer(fake_engine):
    request = CallRequest(call_text="Groundwater aquifer transport. Drought crop irrigation.",
                          min_size=3, max_size=3, teams=10, budget_s=0.0)
    result = fake_engine.assemble(request)
    assert len(result.teams) == 1  # the first team is always found ...
    assert result.notes and result.notes[0].startswith("partial answer: 1 of 10 teams")  # ... and the rest is said
    full = fake_engine.assemble(CallRequest(call_text=request.call_text, min_size=3, max_size=3, teams=3))
    assert len(full.teams) == 3 and not full.notes
