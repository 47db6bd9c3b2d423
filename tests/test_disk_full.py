"""A full disk: writes answer 507 "the store's disk is full", matches go on from memory, /health
says degraded until a write succeeds again. SQLite is made to report the disk full for real, by a
page limit on the store's writing connection."""

from __future__ import annotations

import errno
import sqlite3
import time

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiConfig
from matcher.domain.errors import StoreFull
from matcher.domain.profiles import parse_profile
from matcher.service.engine import MatchRequest
from matcher.store.keys import KeyStore
from matcher.store.space import DiskSpace, is_disk_full
from matcher.store.sqlite import SqliteStore

from .conftest import small_pool

BIG = {"id": "ke-0200", "name": "Amani Otieno", "country": "KE",
       "works": [{"title": f"Work {i} on aquifer recharge", "abstract": "karst aquifer nitrate transport " * 60}
                 for i in range(20)]}


def fill(store: SqliteStore) -> None:
    """No page beyond those the database has now: SQLite answers SQLITE_FULL to any write that needs one."""
    pages = store.execute("PRAGMA page_count")[0][0]
    store.execute(f"PRAGMA max_page_count={pages}")


def free(store: SqliteStore) -> None:
    store.execute("PRAGMA max_page_count=1073741823")


def test_a_full_database_raises_store_full_and_is_remembered_until_a_write_succeeds(tmp_path):
    store = SqliteStore(tmp_path)
    store.upsert(small_pool(3))
    fill(store)
    with pytest.raises(StoreFull, match="the store's disk is full") as raised:
        store.upsert([parse_profile(BIG)])
    assert isinstance(raised.value.__cause__, sqlite3.OperationalError) and store.space.full
    assert not store.exists("ke-0200") and store.count() == 3  # the transaction was rolled back whole
    assert [p.id for p in store.profiles()] == ["p000", "p001", "p002"]  # reads go on
    free(store)
    store.upsert([parse_profile(BIG)])
    assert not store.space.full and store.exists("ke-0200")
    store.close()


def test_what_counts_as_a_full_disk():
    assert is_disk_full(OSError(errno.ENOSPC, "No space left on device"))
    assert is_disk_full(OSError(errno.EDQUOT, "Disk quota exceeded"))
    assert not is_disk_full(OSError(errno.EACCES, "Permission denied"))
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as err:
            raise RuntimeError("writing the snapshot failed") from err
    except RuntimeError as wrapped:
        assert is_disk_full(wrapped)
    space = DiskSpace()
    with pytest.raises(ValueError), space.writing():
        raise ValueError("not about space")
    assert not space.full


def test_the_api_answers_507_for_writes_keeps_matching_and_reports_degraded(fake_services, fake_engine):
    store = fake_services.store
    admin = KeyStore(store).create("admin")[1]
    app = create_app(fake_engine.config, services=fake_services, api=ApiConfig(rate_limit_per_minute=10_000))
    with TestClient(app, headers={"X-API-Key": admin}) as client:
        assert client.get("/health").json()["status"] == "ok"
        fill(store)
        written = client.post("/v1/profiles", json=BIG)
        assert written.status_code == 507
        assert written.json() == {"detail": "the store's disk is full", "error": "StoreFull"}
        health = client.get("/health").json()
        assert health["status"] == "degraded" and health["reason"] == "the store's disk is full"
        by_id = client.post("/v1/match", json={"profile_id": "p001", "k": 5})
        by_text = client.post("/v1/match", json={"text": "groundwater aquifer contamination", "k": 5})
        assert by_id.status_code == 200 and by_text.status_code == 200 and by_text.json()["suggestions"]
        free(store)
        assert client.post("/v1/profiles", json=BIG).status_code == 201
        health = client.get("/health").json()
        assert health["status"] == "ok" and health.get("reason") is None


def test_a_batch_result_that_cannot_be_written_fails_the_job_with_the_reason(fake_services, monkeypatch):
    from matcher.assign.programme import build_request
    from matcher.service import batches

    def no_room(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(batches, "write_data", no_room)
    job = fake_services.batches.start(fake_services.engine.corpus, build_request("topk", k=2), {"mode": "topk"}, None)
    for _ in range(200):
        status = fake_services.batches.get(job["id"])
        if status["status"] in ("done", "failed"):
            break
        time.sleep(0.05)
    assert status["status"] == "failed" and status["error"] == "the store's disk is full"


def test_a_merge_that_cannot_write_its_snapshot_marks_the_disk_full(fake_services, monkeypatch):
    from matcher.index.snapshot import Snapshots

    def no_room(self: object, *args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    engine = fake_services.engine
    engine.corpus()
    engine.start_background()
    engine.add([parse_profile(BIG)])  # a write the merge has to fold in
    monkeypatch.setattr(Snapshots, "write", no_room)
    engine.state.merger.request(engine.state, refit=False)  # a merge on demand, as a server's would be
    engine.wait_for_merge(30)
    assert fake_services.store.space.full
    assert engine.match(MatchRequest(profile_id="p001", k=3))  # queries go on from memory
