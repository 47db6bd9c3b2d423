"""An interrupted ingest completes when it is run again: a stored profile always has its vectors
(they are cached before its chunk is stored), and the texts of stored profiles that have none
(a store written by an earlier version, interrupted between storing and embedding) are
embedded by the next ingest of them, which says so."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from matcher.domain.profiles import Profile, parse_profile, profile_to_dict
from matcher.index.segment import corpus_texts
from matcher.service import profiles as use_cases
from matcher.service.bootstrap import model_id_for
from matcher.service.config import load_config
from matcher.store.base import text_hash
from matcher.store.sqlite import SqliteStore

from .conftest import ROOT, fake_services_at, small_pool

DEMO = ROOT / "data" / "demo" / "profiles.jsonl"


def test_unchanged_profiles_without_vectors_are_embedded_and_reported(tmp_path):
    services = fake_services_at(tmp_path / "store")
    pool = small_pool(12)
    services.store.upsert(pool[:8])  # as an earlier version left them: stored, never embedded
    texts = corpus_texts(pool)
    assert services.engine.embedder.missing(texts) == len(set(texts))
    path = tmp_path / "pool.jsonl"
    path.write_text("".join(json.dumps(profile_to_dict(p, private=True)) + "\n" for p in pool))
    report = use_cases.ingest(services, path)
    left = len(set(corpus_texts(pool[:8])))
    assert (report.added, report.unchanged, report.repaired) == (4, 8, left)
    assert f"embedded {left} texts of stored profiles that had no vectors yet" in " ".join(report.notes)
    assert services.engine.embedder.missing(texts) == 0
    again = use_cases.ingest(services, path)
    assert (again.unchanged, again.repaired, again.notes) == (12, 0, ())
    services.close()


def _pool(path: Path, n: int) -> list[Profile]:
    """`n` demo profiles with one work each and no keywords: one text per profile, so that a chunk
    of 500 takes a few seconds to embed with the real model."""
    pool = []
    for line in DEMO.read_text(encoding="utf-8").splitlines()[:n]:
        record = json.loads(line)
        record["works"], record["keywords"] = record["works"][:1], []
        pool.append(parse_profile(record))
    path.write_text("".join(json.dumps(profile_to_dict(p, private=True)) + "\n" for p in pool), encoding="utf-8")
    return pool


def _stored(home: Path) -> int:
    db = home / "matcher.sqlite3"
    if not db.exists():
        return 0
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        try:
            return int(con.execute("SELECT count(*) FROM profiles").fetchone()[0])
        except sqlite3.OperationalError:  # not made yet
            return 0


def _ingest(home: Path, path: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "MATCHER_HOME": str(home), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "matcher", "ingest", str(path), *args], env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as a terminal's Ctrl-C finds it
    )


def _missing(home: Path) -> tuple[int, list[str]]:
    """(stored profiles, hashes of their texts the cache lacks) with the configured model."""
    store = SqliteStore(home)
    try:
        stored = store.profiles()
        hashes = list(dict.fromkeys(text_hash(t) for t in corpus_texts(stored)))
        found = store.cached_vectors(model_id_for(load_config(home=home)), hashes)
        return len(stored), [h for h in hashes if h not in found]
    finally:
        store.close()


@pytest.mark.integration
def test_ctrl_c_during_embedding_then_a_rerun_leaves_nothing_to_embed(tmp_path):
    home, path = tmp_path / "store", tmp_path / "pool.jsonl"
    pool = _pool(path, 1200)
    process = _ingest(home, path)
    deadline = time.monotonic() + 600
    while _stored(home) < 500 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)  # the first chunk of 500 is embedded and stored
    time.sleep(2)  # well inside the second chunk's embedding
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "interrupted: every profile stored so far has its vectors" in err and "Traceback" not in err
    stored, missing = _missing(home)
    assert 0 < stored < len(pool) and missing == []  # every stored profile has its vectors

    # a store from an earlier version: some stored profiles' vectors never made it to the cache
    with sqlite3.connect(home / "matcher.sqlite3") as con:
        dropped = [h for (h,) in con.execute("SELECT text_hash FROM works ORDER BY profile_id LIMIT 40")]
        con.executemany("DELETE FROM embeddings WHERE text_hash = ?", [(h,) for h in dropped])
    assert len(_missing(home)[1]) == len(set(dropped))

    rerun = _ingest(home, path, "--json")
    out, err = rerun.communicate(timeout=900)
    assert rerun.returncode == 0, err
    report = json.loads(out)
    assert (report["added"], report["unchanged"], report["repaired"]) == (len(pool) - stored, stored, len(set(dropped)))
    assert f"embedded {len(set(dropped))} texts of stored profiles that had no vectors yet" in err
    stored, missing = _missing(home)
    assert stored == len(pool) and missing == []  # nothing left for a match to embed
