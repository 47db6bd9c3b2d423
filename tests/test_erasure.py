"""Erasure leaves nothing on disk: the database and its log, the matching state's files, kept batch
results, other profiles' co-author lists, keys, jobs and the audit trail; kept results expire; the
store's files are the owner's alone. The last test runs the real server and kills it."""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiConfig
from matcher.assign.programme import build_request, run_batch
from matcher.domain.errors import JobExpired
from matcher.domain.profiles import parse_profile
from matcher.export.results import RENDERED, read_result, write_result
from matcher.index.segment import id_hash
from matcher.service import profiles
from matcher.service.bootstrap import Services, model_id_for
from matcher.service.config import Config
from matcher.service.engine import MatchRequest
from matcher.store.keys import KeyStore
from matcher.store.sqlite import SqliteStore
from matcher.testing import FakeEmbedder

from .conftest import fake_services_at, small_pool

GONE = {
    "id": "zz-gone", "name": "Quillonia Vexmarrow", "country": "PT", "email": "q.vexmarrow@erasure.example",
    "gender": "nonbinary", "institution": "Institute of Zarquon Studies",
    "works": [{"title": "Glaciovolcanic tephra layering", "abstract": "Snorqueline isotopic dating of glaciovolcanic "
               "tephra with groundwater aquifer recharge and drought adaptation", "coauthors": ["p001"]}],
}
SECRETS = (b"zz-gone", b"Quillonia Vexmarrow", b"q.vexmarrow@erasure.example", b"Glaciovolcanic tephra",
           b"Snorqueline")


def files_holding(home: Path, needles: tuple[bytes, ...] = SECRETS) -> dict[str, list[bytes]]:
    found = {}
    for path in sorted(home.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            if hits := [n for n in needles if n in data]:
                found[str(path.relative_to(home))] = hits
    return found


def pool_with_the_profile() -> list:
    """The small pool, the profile to erase, and a colleague listing it by id and by name."""
    gone = parse_profile(GONE)
    colleague = dataclasses.replace(small_pool(1)[0], id="colleague", works=(dataclasses.replace(
        small_pool(1)[0].works[0], coauthors=("zz-gone", "Quillonia Vexmarrow", "p002")),))
    return [*small_pool(), gone, colleague]


@pytest.fixture()
def fake() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture()
def services(tmp_path: Path, fake: FakeEmbedder):
    made = fake_services_at(tmp_path / "store", fake)
    made.engine.add(pool_with_the_profile())
    made.engine.corpus()
    yield made
    made.close()


def finished_job(services: Services, pool: tuple[str, ...] = ()) -> str:
    request = build_request("topk", k=3, pool=pool)
    job_id = services.batches.jobs.create({"mode": "topk", "pool_ids": list(pool)})
    services.batches.finish(job_id, run_batch(services.engine.corpus(), request))
    return job_id


# -- the database and its log ------------------------------------------------------------------


def test_every_connection_zeroes_what_it_deletes(tmp_path):
    store = SqliteStore(tmp_path)
    assert store.execute("PRAGMA secure_delete") == [(1,)]  # the writer
    assert store.query("PRAGMA secure_delete") == [(1,)]  # this thread's reader
    with store.reader() as view:  # a consistent view's own connection
        assert view._db.execute("PRAGMA secure_delete").fetchone() == (1,)
    store.close()


def test_an_erased_profile_leaves_no_bytes_in_the_store(services, tmp_path):
    home = tmp_path / "store"
    assert files_holding(home)  # it is there to begin with (the log, the state's files)
    profiles.erase(services, "zz-gone", scope="test")
    assert files_holding(home) == {}
    assert (home / "matcher.sqlite3-wal").stat().st_size == 0  # the log was emptied
    assert not services.store.exists("zz-gone")
    db = sqlite3.connect(home / "matcher.sqlite3")
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_erasure_takes_the_id_and_name_out_of_other_profiles_coauthor_lists(services, fake):
    before, embedded = services.store.generation(), fake.texts_embedded
    profiles.erase(services, "zz-gone")
    assert fake.texts_embedded == embedded  # the colleague's texts did not change: nothing embedded
    colleague = services.store.get("colleague")
    assert colleague.works[0].coauthors == ("p002",)
    assert services.store.get("p001").works[0].coauthors == small_pool()[1].works[0].coauthors  # untouched
    assert services.store.generation() == before + 2  # the rewrite is a change of its own, then the deletion
    corpus = services.engine.corpus()
    row = corpus.row_of["colleague"]
    assert "zz-gone" not in corpus.row_of
    part, local = (corpus.base, row) if row < corpus.boundary else (corpus.delta, row - corpus.boundary)
    listed = set(part.links.row(local)[0].tolist())
    assert id_hash("zz-gone") not in listed and id_hash("Quillonia Vexmarrow") not in listed


def test_erasing_texts_nobody_else_has_drops_their_vectors_and_keeps_shared_ones(tmp_path):
    import numpy as np

    from matcher.store.base import text_hash

    store = SqliteStore(tmp_path)
    keyworded = [dataclasses.replace(p, keywords=("shared words",)) for p in small_pool(2)]
    store.upsert(keyworded)
    texts = {t for p in keyworded for t in p.texts}
    store.put_vectors("m", [text_hash(t) for t in texts], np.ones((len(texts), 4), dtype=np.float32))
    store.delete("p000")
    kept = store.cached_vectors("m", [text_hash(t) for t in texts])
    assert text_hash(keyworded[1].keyword_text) in kept  # p001 has the same keywords: its vector stays
    assert not any(text_hash(w.text) in kept for w in keyworded[0].works)
    assert not store.query("SELECT 1 FROM embeddings WHERE vector IS NULL")  # nothing but hashes and vectors
    store.close()


def test_erasure_reaches_keys_jobs_and_the_audit_trail(services):
    keys = KeyStore(services.store)
    keys.create("owner", owner="zz-gone", label="key of Quillonia Vexmarrow")
    services.audit.record("export", key_id=None, scope="admin", target="zz-gone")
    job = services.batches.jobs.create({"mode": "topk", "pool_ids": ["zz-gone", "p001"]})
    services.batches.jobs.fail(job, "no profile with id 'zz-gone'")
    profiles.erase(services, "zz-gone")
    rows = services.store.query("SELECT owner, label, revoked FROM api_keys")
    assert rows == [(None, "", 1)]
    assert "zz-gone" not in json.dumps(services.audit.rows())
    request, error = services.store.query("SELECT request, error FROM batch_jobs WHERE id=?", (job,))[0]
    assert json.loads(str(request))["pool_ids"] == ["p001"] and error == "no profile with id '[erased]'"


# -- the matching state's files ------------------------------------------------------------------


def test_a_serving_engine_answers_the_erasure_after_its_merge_is_on_disk(tmp_path):
    services = fake_services_at(tmp_path / "store")
    services.engine.add(pool_with_the_profile())
    services.engine.corpus()
    services.engine.start_background()  # merges in a background thread, as when serving
    try:
        profiles.erase(services, "zz-gone")
        state = tmp_path / "store" / "state"  # no waiting here: the answer came after the merge
        assert files_holding(state) == {}
        assert services.engine.state.snapshots.current().generation == services.store.generation()
    finally:
        services.close()


def test_when_the_erasure_merge_fails_the_old_snapshot_is_removed(services, tmp_path, monkeypatch):
    from matcher.index.snapshot import Snapshots

    def no_room(self, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Snapshots, "write", no_room)
    profiles.erase(services, "zz-gone")
    assert services.engine.state.snapshots.current() is None
    assert files_holding(tmp_path / "store", SECRETS[1:]) == {}  # the id stays in the change log until a merge
    assert files_holding(tmp_path / "store" / "state") == {}
    monkeypatch.undo()
    assert services.engine.match(MatchRequest(profile_id="p001", k=3))  # the state in memory goes on


# -- kept batch results ---------------------------------------------------------------------------


def test_erasure_rewrites_only_the_results_that_name_the_profile(services):
    holding = finished_job(services)  # the whole store
    other = finished_job(services, pool=("p001", "p002", "p003", "p004", "p005", "p006"))
    other_json = (services.batches.root / other / "result.json").stat()
    assert services.batches.jobs.holding("zz-gone") == [holding]
    assert services.batches.forget_profile("zz-gone") == 1
    assert (services.batches.root / other / "result.json").stat().st_mtime_ns == other_json.st_mtime_ns
    assert all((services.batches.root / other / name).exists() for name in RENDERED)
    folder = services.batches.root / holding
    assert b"zz-gone" not in (folder / "result.json").read_bytes()
    assert not any((folder / name).exists() for name in RENDERED)  # rendered again when asked for
    csv = services.batches.result_file(holding, "pairs.csv")
    assert csv.exists() and b"zz-gone" not in csv.read_bytes()
    assert services.batches.jobs.holding("zz-gone") == []


def test_a_batch_finishing_after_the_erasure_leaves_the_profile_out(services):
    result = run_batch(services.engine.corpus(), build_request("topk", k=3))  # computed before the erasure
    assert "zz-gone" in result.countries
    profiles.erase(services, "zz-gone")
    job_id = services.batches.jobs.create({"mode": "topk"})
    services.batches.finish(job_id, result)
    assert b"zz-gone" not in b"".join(p.read_bytes() for p in (services.batches.root / job_id).iterdir())


def test_results_kept_by_an_earlier_version_are_indexed_and_scrubbed(services):
    job_id = services.batches.jobs.create({"mode": "topk"})
    write_result(run_batch(services.engine.corpus(), build_request("topk", k=3)), services.batches.root / job_id)
    services.batches.jobs.finish(job_id, "kept without holders")
    assert services.batches.jobs.unindexed() == [job_id]
    profiles.erase(services, "zz-gone")
    assert "zz-gone" not in json.dumps(read_result(services.batches.root / job_id))


def test_a_crash_mid_write_leaves_no_copy_behind(services):
    job_id = finished_job(services)
    folder = services.batches.root / job_id
    stray = folder / ".result.json.k3j2.tmp"  # what a kill -9 during a rewrite leaves
    stray.write_bytes((folder / "result.json").read_bytes())
    profiles.erase(services, "zz-gone")
    assert not stray.exists() and files_holding(folder) == {}


def test_kept_results_expire_after_the_retention_period(services, tmp_path):
    old, fresh = finished_job(services), finished_job(services)
    services.store.execute("UPDATE batch_jobs SET finished_at='2020-01-01T00:00:00Z' WHERE id=?", (old,))
    with pytest.raises(JobExpired, match="expired: results are kept for 30 days"):
        services.batches.result(old)
    assert not (services.batches.root / old).exists() and services.batches.jobs.holding("p001") == [fresh]
    assert services.batches.get(old)["status"] == "expired"
    assert services.batches.result(fresh)["pairs"]
    keys = KeyStore(services.store)
    agency = keys.create("agency")[1]
    app = create_app(services.config, services=services, api=ApiConfig(rate_limit_per_minute=10_000))
    with TestClient(app, headers={"X-API-Key": agency}) as client:
        services.store.execute("UPDATE batch_jobs SET finished_at='2020-01-01T00:00:00Z', key_id=? WHERE id=?",
                               (keys.verify(agency).key_id, fresh))
        client.post("/v1/batches", json={"mode": "topk", "k": 2})  # a new job sweeps the kept ones
        answer = client.get(f"/v1/batches/{fresh}/result")
    assert answer.status_code == 404 and "has expired" in answer.json()["detail"]
    assert not (services.batches.root / fresh).exists()


def test_the_retention_period_is_a_setting(monkeypatch, tmp_path):
    from matcher.service.config import load_config

    monkeypatch.setenv("MATCHER_RESULT_RETENTION_DAYS", "7")
    assert load_config(home=tmp_path).result_retention_days == 7
    assert Config(home=tmp_path).result_retention_days == 30


# -- permissions ------------------------------------------------------------------------------------


def test_the_store_and_what_the_cli_writes_are_the_owners_alone(tmp_path):
    home, out = tmp_path / "store", tmp_path / "out"
    home.mkdir(mode=0o755)
    fake = FakeEmbedder(model_id=model_id_for(Config(home=home)))
    services = fake_services_at(home, fake)  # a store made as the CLI would find it, on the CLI's model id
    services.engine.add(small_pool())
    services.engine.corpus()
    services.close()
    os.chmod(home, 0o755)
    os.chmod(home / "matcher.sqlite3", 0o644)  # as an earlier version left them
    env = {"MATCHER_HOME": str(home), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-m", "matcher", "batch", "--mode", "topk", "--k", "3", "--out", str(out)],
                          capture_output=True, text=True, env=env, timeout=300, preexec_fn=lambda: os.umask(0o022))
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(home.stat().st_mode) == 0o700 and stat.S_IMODE(out.stat().st_mode) == 0o700
    files = [p for p in [*home.rglob("*"), *out.rglob("*")] if p.is_file()]
    assert {p.name for p in files} >= {"matcher.sqlite3", "matcher.sqlite3-wal", "pairs.csv", "report.html"}
    assert {str(p): oct(stat.S_IMODE(p.stat().st_mode)) for p in files if p.stat().st_mode & 0o077} == {}


# -- the real server, killed ------------------------------------------------------------------------


@pytest.mark.integration
def test_nothing_of_an_erased_profile_survives_a_kill_of_the_real_server(tmp_path):
    from bench.soak_erasure import erasure_round

    result = erasure_round(tmp_path / "store", 1, whole_store_batches=1)
    assert result.residue == {}
    assert result.kept_listing == {"colleague-000": []}
