"""Ranking metrics (Recall@K, MRR, nDCG@K) and the expertise-ordering loss of Stelmakh et al. 2023."""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["recall_at", "reciprocal_rank", "ndcg_at", "ordering_loss"]


def recall_at(ranked: Sequence[str], targets: set[str], k: int) -> float:
    return len(set(ranked[:k]) & targets) / len(targets) if targets else 0.0


def reciprocal_rank(ranked: Sequence[str], targets: set[str]) -> float:
    for position, item in enumerate(ranked, start=1):
        if item in targets:
            return 1.0 / position
    return 0.0


def ndcg_at(ranked: Sequence[str], targets: set[str], k: int) -> float:
    dcg = sum(1.0 / math.log2(i + 2) for i, item in enumerate(ranked[:k]) if item in targets)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(targets), k)))
    return dcg / ideal if ideal else 0.0


def ordering_loss(people: Sequence[Sequence[tuple[float, float]]]) -> tuple[float, float, int]:
    """Loss of Stelmakh et al. 2023 ("A Gold Standard Dataset for the Reviewer Assignment Problem").

    `people` holds, per person, (rating, score) pairs of the texts they rated. Every pair of texts
    with different ratings that the scores order wrongly costs the rating difference; a tie in
    score costs half of it. Returns (loss = cost / sum of all rating differences, share of pairs
    ordered correctly, number of pairs). 0 is perfect; a constant scorer gets 0.5.
    """
    cost = total = 0.0
    correct = pairs = 0
    for judged in people:
        for i in range(len(judged)):
            for j in range(i + 1, len(judged)):
                (r_i, s_i), (r_j, s_j) = judged[i], judged[j]
                if r_i == r_j:
                    continue
                weight = abs(r_i - r_j)
                total += weight
                pairs += 1
                agreement = (r_i - r_j) * (s_i - s_j)
                if agreement > 0:
                    correct += 1
                elif agreement == 0:
                    cost += weight / 2
                else:
                    cost += weight
    if not pairs:
        return 0.0, 0.0, 0
    return cost / total, correct / pairs, pairs
