from __future__ import annotations

import numpy as np
import pytest

from matcher.diversity import mmr
from matcher.embedding import normalise_rows
from matcher.index import METHODS, CosineIndex


@pytest.mark.parametrize("method", METHODS)
def test_query_matches_brute_force_and_round_trips(tmp_path, method):
    vectors = normalise_rows(np.random.default_rng(1).normal(size=(50, 16)))
    index = CosineIndex(method=method).fit(vectors)
    rows, sims = index.query(vectors[:3], 5)
    brute = np.argsort(-(vectors[:3] @ vectors.T), axis=1)[:, :5]
    np.testing.assert_array_equal(rows, brute)
    assert np.allclose(sims[:, 0], 1.0, atol=1e-3 if method == "half" else 1e-5)  # float16: 11-bit mantissa
    index.save(tmp_path)
    again = CosineIndex.load(tmp_path)
    np.testing.assert_array_equal(again.query(vectors[:3], 5)[0], rows)


@pytest.mark.parametrize("method", METHODS)
def test_query_clamps_n_to_the_index_size(method):
    index = CosineIndex(method=method).fit(normalise_rows(np.eye(3, dtype=np.float32)))
    assert index.query(np.ones(3, dtype=np.float32), 10)[0].shape == (1, 3)


def test_blas_and_sklearn_give_the_same_neighbours():
    vectors = normalise_rows(np.random.default_rng(2).normal(size=(2000, 32)))
    queries = vectors[:25] + 0.1
    a_rows, a_sims = CosineIndex(method="blas").fit(vectors).query(queries, 40)
    b_rows, b_sims = CosineIndex(method="sklearn").fit(vectors).query(queries, 40)
    np.testing.assert_array_equal(a_rows, b_rows)
    np.testing.assert_allclose(a_sims, b_sims, atol=1e-5)


def test_half_precision_gives_the_float32_neighbours_up_to_rounding():
    """The default index keeps float16 vectors: its neighbours are the float32 ones wherever the
    float32 similarities are not within float16 rounding (1e-3) of each other."""
    vectors = normalise_rows(np.random.default_rng(3).normal(size=(5000, 384)))
    queries = normalise_rows(vectors[:20] + 0.2 * np.random.default_rng(4).normal(size=(20, 384)))
    h_rows, h_sims = CosineIndex(method="half").fit(vectors).query(queries, 50)
    f_rows, f_sims = CosineIndex(method="blas").fit(vectors).query(queries, 50)
    np.testing.assert_allclose(h_sims, f_sims, atol=1e-3)
    exact = queries @ vectors.T
    for q in range(len(queries)):
        swapped = set(h_rows[q]) ^ set(f_rows[q])
        assert all(abs(exact[q, r] - f_sims[q, -1]) < 1e-3 for r in swapped)


def test_mmr_zero_diversity_is_ranking_and_diversity_avoids_copies():
    vectors = normalise_rows(np.array([[1, 0], [1, 0.01], [0, 1]], dtype=np.float32))
    scores = np.array([0.9, 0.89, 0.5], dtype=np.float32)
    assert mmr(scores, vectors, 2, 0.0).tolist() == [0, 1]
    assert mmr(scores, vectors, 2, 0.5).tolist() == [0, 2]
    assert mmr(scores, vectors, 10, 0.3).shape == (3,)


def test_a_split_scan_equals_one_scan(monkeypatch):
    from matcher import half

    matrix = normalise_rows(np.random.default_rng(5).normal(size=(1001, 32))).astype(np.float16)
    vector = normalise_rows(np.random.default_rng(6).normal(size=(1, 32)))[0]
    whole = half.matvec(matrix, vector)
    monkeypatch.setattr(half, "SPLIT_ROWS", 100)
    np.testing.assert_array_equal(half.matvec(matrix, vector), whole)
    np.testing.assert_allclose(whole, matrix.astype(np.float32) @ vector, atol=1e-3)  # float16 result
