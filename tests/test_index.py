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
    assert np.allclose(sims[:, 0], 1.0, atol=1e-5)
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


def test_mmr_zero_diversity_is_ranking_and_diversity_avoids_copies():
    vectors = normalise_rows(np.array([[1, 0], [1, 0.01], [0, 1]], dtype=np.float32))
    scores = np.array([0.9, 0.89, 0.5], dtype=np.float32)
    assert mmr(scores, vectors, 2, 0.0).tolist() == [0, 1]
    assert mmr(scores, vectors, 2, 0.5).tolist() == [0, 2]
    assert mmr(scores, vectors, 10, 0.3).shape == (3,)
