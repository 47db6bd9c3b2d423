"""The `Store` contract, run against the SQLite store, the in-memory fake and PostgreSQL; then what only the
SQLite store promises (WAL, files on disk, migrations)."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from matcher.domain.errors import ProfileExists, ProfileNotFound
from matcher.domain.profiles import parse_profile
from matcher.store.atomic import save_npy_atomic
from matcher.store.base import Store, text_hash
from matcher.store.sqlite import SqliteStore
from matcher.testing.memory import MemoryStore

from .conftest import small_pool

STORES: dict[str, Callable[[Path], Store]] = {"sqlite": SqliteStore, "memory": MemoryStore}


@pytest.fixture(params=[*sorted(STORES), "postgresql"])
def store(request, tmp_path) -> Store:
    if request.param == "postgresql":  # a fresh database on the session's server (skipped without the package)
        from matcher.store.postgres import PostgresStore

        # changes are pruned at once here, as in the other stores (in production they are kept a day)
        made: Store = PostgresStore(request.getfixturevalue("postgres_url"), tmp_path, change_retention_s=0)
    else:
        made = STORES[request.param](tmp_path)
    yield made
    made.close()


def test_upsert_is_idempotent_and_updates_by_id(store):
    pool = small_pool(10)
    first = store.upsert(pool)
    assert first.added == 10 and sorted(first.versions) == [p.id for p in pool]
    generation = store.generation()
    again = store.upsert(pool)
    assert (again.added, again.updated, again.unchanged, again.versions) == (0, 0, 10, {})
    assert store.generation() == generation  # nothing changed, nothing numbered
    changed = parse_profile({"id": "p000", "name": "Renamed", "country": "DE", "works": [{"title": "New"}]})
    result = store.upsert([changed])
    assert result.updated == 1 and result.versions == {"p000": generation + 1} == {"p000": store.generation()}
    assert store.get("p000").name == "Renamed" and store.exists("p000") and not store.exists("nobody")
    assert store.count() == 10 and store.content_hashes(["p000", "nobody"]) == {"p000": changed.content_hash()}
    with pytest.raises(ProfileExists):
        store.upsert([small_pool(12)[11], changed], create_only=True)
    assert not store.exists("p011")  # a refused call keeps nothing
    with pytest.raises(ProfileNotFound):
        store.get("nobody")


def test_listing_is_by_id(store):
    store.upsert(list(reversed(small_pool(5))))
    assert [p.id for p in store.profiles()] == ["p000", "p001", "p002", "p003", "p004"]
    assert store.list_ids(offset=1, limit=2) == [(p.id, p.name, p.kind, p.country) for p in small_pool(5)[1:3]]


def test_delete_removes_the_profile_and_unshared_vectors_and_is_numbered(store):
    pool = small_pool(4)
    store.upsert(pool)
    twin = dataclasses.replace(pool[1], id="twin", works=pool[0].works[:1])  # shares p000's first work
    store.upsert([twin])
    own = [text_hash(w.text) for w in pool[0].works]
    store.put_vectors("m", own, np.ones((len(own), 4), dtype=np.float32))
    version = store.delete("p000")
    assert version == store.generation() and not store.exists("p000")
    assert sorted(store.cached_vectors("m", own)) == [own[0]]  # the shared text keeps its vector
    with pytest.raises(ProfileNotFound):
        store.delete("p000")


def test_the_change_log_gives_each_profile_its_last_version(store):
    pool = small_pool(5)
    store.upsert(pool[:3])
    base = store.generation()
    store.upsert([dataclasses.replace(pool[0], name="Again")])
    store.upsert(pool[3:])
    store.delete("p001")
    with store.reader() as view:
        changed = view.changed_since(base)
        assert [pid for pid, _ in changed] == ["p000", "p003", "p004", "p001"]
        assert [v for _, v in changed] == sorted(v for _, v in changed) and changed[-1][1] == view.generation()
        changes = {c.profile_id: c for c in view.changes(changed)}
    assert changes["p000"].profile.name == "Again" and changes["p001"].profile is None
    assert store.count_changed_since(base) == 4 and store.count_changed_since(store.generation()) == 0


def test_a_reader_sees_one_moment(store):
    store.upsert(small_pool(3))
    with store.reader() as view:
        generation = view.generation()
        store.upsert(small_pool(6)[3:])
        store.delete("p000")
        assert view.generation() == generation and view.count() == 3
        assert [p.id for p in view.profiles()] == ["p000", "p001", "p002"]
        assert view.changed_since(generation) == []
    assert store.count() == 5


def test_pruned_changes_are_gone_and_said_so(store):
    store.upsert(small_pool(3))
    middle = store.generation()
    store.upsert(small_pool(5)[3:])
    store.prune_changes(middle)
    with store.reader() as view:
        assert view.pruned_through() == middle
        assert [pid for pid, _ in view.changed_since(0)] == ["p003", "p004"]


def test_vector_cache_round_trip(store):
    vectors = np.random.default_rng(0).normal(size=(5, 8)).astype(np.float32)
    store.put_vectors("model-a", list("abcde"), vectors)
    found = store.cached_vectors("model-a", list("abcdez"))
    assert sorted(found) == list("abcde") and store.cache_size("model-a") == 5
    np.testing.assert_array_equal(found["c"], vectors[2])
    assert store.cached_vectors("model-b", ["a"]) == {}
    assert store.cached_hashes("model-a", list("azc")) == {"a", "c"} and store.cached_hashes("model-b", ["a"]) == set()


def test_a_store_has_an_id_and_a_state_folder(store, tmp_path):
    assert len(store.store_id()) >= 16 and store.state_dir.parent == tmp_path


def test_the_matching_state_runs_on_any_store(store):
    """The matching state reads the store only through the interface: the fake serves it too."""
    from matcher.embed.cache import CachedEmbedder
    from matcher.index.state import MatchingState
    from matcher.testing import FakeEmbedder

    store.upsert(small_pool())
    fake = FakeEmbedder()
    state = MatchingState(store, CachedEmbedder(store, fake.model_id, lambda: fake))
    view = state.refresh()
    assert view is not None and view.n_active == 48
    store.upsert([dataclasses.replace(small_pool(1)[0], id="late", country="KE")])
    store.delete("p003")
    view = state.refresh()
    assert "late" in view.row_of and "p003" not in view.row_of and view.n_active == 48


# -- the SQLite store alone ----------------------------------------------------------------------


def test_wal_mode_and_works_table(tmp_path):
    store = SqliteStore(tmp_path)
    store.upsert(small_pool(3))
    db = sqlite3.connect(store.path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("SELECT count(*) FROM works").fetchone()[0] == sum(len(p.works) for p in small_pool(3))


def test_an_earlier_stores_cache_keys_are_migrated(tmp_path):
    """Earlier versions keyed int8 vectors by the CPU's kernel; the store renames them on opening."""
    SqliteStore(tmp_path).close()
    db = sqlite3.connect(tmp_path / "matcher.sqlite3")
    db.execute("INSERT INTO embeddings VALUES ('m+onnx-int8-avx512_vnni', 'h', x'00000000')")
    db.execute("UPDATE meta SET value='1' WHERE key='schema_version'")
    db.commit()
    store = SqliteStore(tmp_path)
    assert sorted(store.cached_vectors("m+int8", ["h"])) == ["h"]


def test_snapshot_is_plain_npy_written_atomically(tmp_path):
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    path = tmp_path / "snap" / "v.npy"
    save_npy_atomic(path, array)
    np.testing.assert_array_equal(np.load(path, allow_pickle=False), array)
    assert [p.name for p in path.parent.iterdir()] == ["v.npy"]  # no temporary file left behind
