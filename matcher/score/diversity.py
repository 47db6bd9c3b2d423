"""Maximal marginal relevance: a ranked list that is not ten near-copies of one profile."""

from __future__ import annotations

import numpy as np

__all__ = ["mmr"]


def mmr(scores: np.ndarray, vectors: np.ndarray, k: int, diversity: float) -> np.ndarray:
    """Indices of `k` items chosen greedily by (1 - diversity) * score - diversity * redundancy.

    Redundancy is an item's highest cosine to an item already chosen. `diversity=0` is plain
    ranking by score; ties break by position, so the result is deterministic.
    """
    n = len(scores)
    k = min(k, n)
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    if diversity <= 0:
        return np.argsort(-scores, kind="stable")[:k]
    chosen = [int(np.argmax(scores))]
    redundancy = vectors @ vectors[chosen[0]]
    taken = np.zeros(n, dtype=bool)
    taken[chosen[0]] = True
    for _ in range(k - 1):
        value = (1 - diversity) * scores - diversity * redundancy
        value[taken] = -np.inf
        pick = int(np.argmax(value))
        chosen.append(pick)
        taken[pick] = True
        np.maximum(redundancy, vectors @ vectors[pick], out=redundancy)
    return np.asarray(chosen, dtype=np.int64)
