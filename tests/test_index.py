from __future__ import annotations

import numpy as np

from matcher.diversity import mmr
from matcher.embedding import normalise_rows
from matcher.index import CosineIndex


def test_query_matches_brute_force_and_round_trips(tmp_path):
    vectors = normalise_rows(np.random.default_rng(1).normal(size=(50, 16)))
    index = CosineIndex().fit(vectors)
    rows, sims = index.query(vectors[:3], 5)
    brute = np.argsort(-(vectors[:3] @ vectors.T), axis=1)[:, :5]
    np.testing.assert_array_equal(rows, brute)
    assert np.allclose(sims[:, 0], 1.0, atol=1e-5)
    index.save(tmp_path)
    again = CosineIndex.load(tmp_path)
    np.testing.assert_array_equal(again.query(vectors[:3], 5)[0], rows)


def test_query_clamps_n_to_the_index_size():
    index = CosineIndex().fit(normalise_rows(np.eye(3, dtype=np.float32)))
    assert index.query(np.ones(3, dtype=np.float32), 10)[0].shape == (1, 3)


def test_mmr_zero_diversity_is_ranking_and_diversity_avoids_copies():
    vectors = normalise_rows(np.array([[1, 0], [1, 0.01], [0, 1]], dtype=np.float32))
    scores = np.array([0.9, 0.89, 0.5], dtype=np.float32)
    assert mmr(scores, vectors, 2, 0.0).tolist() == [0, 1]
    assert mmr(scores, vectors, 2, 0.5).tolist() == [0, 2]
    assert mmr(scores, vectors, 10, 0.3).shape == (3,)
