from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from matcher.store.atomic import save_npy_atomic
from matcher.domain.errors import ProfileExists, ProfileNotFound
from matcher.domain.profiles import parse_profile
from matcher.store.sqlite import Store, text_hash

from .conftest import small_pool


def test_upsert_is_idempotent_and_updates_by_id(tmp_path):
    store = Store(tmp_path)
    pool = small_pool(10)
    assert store.upsert(pool).added == 10
    generation = store.generation()
    again = store.upsert(pool)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 10)
    assert store.generation() == generation  # nothing changed, nothing bumped
    changed = parse_profile({"id": "p000", "name": "Renamed", "country": "DE", "works": [{"title": "New"}]})
    assert store.upsert([changed]).updated == 1
    assert store.get("p000").name == "Renamed"
    assert store.count() == 10
    with pytest.raises(ProfileExists):
        store.upsert([changed], create_only=True)


def test_wal_mode_and_works_table(tmp_path):
    store = Store(tmp_path)
    store.upsert(small_pool(3))
    db = sqlite3.connect(store.path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("SELECT count(*) FROM works").fetchone()[0] == sum(len(p.works) for p in small_pool(3))


def test_delete_removes_profile_works_and_unshared_vectors(tmp_path):
    store = Store(tmp_path)
    pool = small_pool(4)
    store.upsert(pool)
    hashes = [text_hash(w.text) for w in pool[0].works]
    store.put_vectors("m", hashes, np.ones((len(hashes), 4), dtype=np.float32))
    store.delete("p000")
    assert not store.exists("p000")
    assert store.cached_vectors("m", hashes) == {}
    with pytest.raises(ProfileNotFound):
        store.delete("p000")


def test_vector_cache_round_trip(tmp_path):
    store = Store(tmp_path)
    vectors = np.random.default_rng(0).normal(size=(5, 8)).astype(np.float32)
    store.put_vectors("model-a", list("abcde"), vectors)
    found = store.cached_vectors("model-a", list("abcdez"))
    assert sorted(found) == list("abcde")
    np.testing.assert_array_equal(found["c"], vectors[2])
    assert store.cached_vectors("model-b", ["a"]) == {}


def test_snapshot_is_plain_npy_written_atomically(tmp_path):
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    path = tmp_path / "snap" / "v.npy"
    save_npy_atomic(path, array)
    np.testing.assert_array_equal(np.load(path, allow_pickle=False), array)
    assert [p.name for p in path.parent.iterdir()] == ["v.npy"]  # no temporary file left behind
