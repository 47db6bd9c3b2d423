"""Maximal marginal relevance: a ranked list that is not ten near-copies of one profile."""

from __future__ import annotations

import numpy as np

__all__ = ["TIE_WINDOW", "mmr"]

TIE_WINDOW = 0.1  # the re-rank reorders only suggestions within this much of the best score left


def mmr(scores: np.ndarray, vectors: np.ndarray, k: int, diversity: float, window: float = TIE_WINDOW) -> np.ndarray:
    """Indices of `k` items chosen greedily by (1 - diversity) * score - diversity * redundancy,
    among the items whose score is within `window` of the best score left.

    Redundancy is an item's highest cosine to an item already chosen. The window keeps the re-rank
    to near-ties at any `diversity`: an item is never placed above one that scores more than
    `window` higher. `diversity=0` is plain ranking by score; ties break by position, so the result
    is deterministic.
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
        left = np.where(taken, -np.inf, scores)
        value = (1 - diversity) * scores - diversity * redundancy
        value[left < left.max() - window] = -np.inf  # taken items are -inf in `left` too
        pick = int(np.argmax(value))
        chosen.append(pick)
        taken[pick] = True
        np.maximum(redundancy, vectors @ vectors[pick], out=redundancy)
    return np.asarray(chosen, dtype=np.int64)
