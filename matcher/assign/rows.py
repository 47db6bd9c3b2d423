"""The rows of a batch result: who is suggested to whom (with the score, rank and reason), and who
was left short of what they asked for. Made from the solvers' arrays with external ids."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from matcher.score.strength import label, strength

__all__ = [
    "PAIR_COLUMNS", "UNMATCHED_COLUMNS", "PairRow", "UnmatchedRow", "pair_rows_from_edges", "pair_rows_from_topk",
    "unmatched_rows",
]

PAIR_COLUMNS = ("applicant_id", "partner_id", "score", "rank", "reason", "strength", "strength_label")
UNMATCHED_COLUMNS = ("applicant_id", "country", "wanted", "matched", "reason")


@dataclass(frozen=True)
class PairRow:
    applicant_id: str
    partner_id: str
    score: float  # the cosine of the two profiles' summaries
    rank: int
    reason: str
    strength: float | None = None  # matcher.score.strength of the score (None in results kept from before it)
    strength_label: str | None = None


@dataclass(frozen=True)
class UnmatchedRow:
    applicant_id: str
    wanted: int
    matched: int
    reason: str


def pair_rows_from_topk(ids: Sequence[str], indices: np.ndarray, scores: np.ndarray, reason: str) -> list[PairRow]:
    """One row per suggestion of a top-k result, rank 1 first; -1 padding is skipped."""
    rows, ranks = np.nonzero(indices >= 0)
    return [
        _row(ids[r], ids[int(indices[r, c])], float(scores[r, c]), c + 1, reason)
        for r, c in zip(rows.tolist(), ranks.tolist(), strict=True)
    ]


def _row(applicant: str, partner: str, score: float, rank: int, reason: str) -> PairRow:
    value = float(strength(score, "pair"))
    return PairRow(applicant, partner, round(score, 6), rank, reason, round(value, 3), label(value))


def pair_rows_from_edges(
    ids: Sequence[str],
    edges_i: np.ndarray,
    edges_j: np.ndarray,
    weights: np.ndarray,
    selected: np.ndarray,
    reason: str,
) -> list[PairRow]:
    """Both directions of every selected pair, ranked by score within each applicant."""
    chosen = np.flatnonzero(selected)
    own = np.concatenate([edges_i[chosen], edges_j[chosen]])
    other = np.concatenate([edges_j[chosen], edges_i[chosen]])
    w = np.concatenate([weights[chosen], weights[chosen]]).astype(np.float64)
    order = np.lexsort((-w, own))
    own, other, w = own[order], other[order], w[order]
    rank = np.arange(own.size) - np.searchsorted(own, own, "left") + 1
    return [
        _row(ids[a], ids[b], s, int(r), reason)
        for a, b, s, r in zip(own.tolist(), other.tolist(), w.tolist(), rank.tolist(), strict=True)
    ]


def unmatched_rows(ids: Sequence[str], unmatched: Iterable) -> list[UnmatchedRow]:
    """Report rows from ``assignment.Unmatched`` records (row numbers to ids)."""
    return [UnmatchedRow(ids[u.row], u.wanted, u.matched, u.reason) for u in unmatched]
