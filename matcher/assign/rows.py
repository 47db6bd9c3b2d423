"""The rows of a batch result: who is suggested to whom (with the score, rank and reason), and who
was left short of what they asked for. Made from the solvers' arrays with external ids; names,
countries, institutions and the plain-words reason are filled in afterwards (`named`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from matcher.score.strength import label, strength

__all__ = [
    "PAIR_COLUMNS", "UNMATCHED_COLUMNS", "PairRow", "Person", "UnmatchedRow", "named", "pair_reason",
    "pair_rows_from_edges", "pair_rows_from_topk", "unmatched_rows",
]

# The first seven columns are the original public ones, in their order; the people's details follow.
PAIR_COLUMNS = (
    "applicant_id", "partner_id", "score", "rank", "reason", "strength", "strength_label",
    "applicant_name", "applicant_country", "applicant_institution", "partner_name", "partner_country",
    "partner_institution",
)
UNMATCHED_COLUMNS = ("applicant_id", "country", "wanted", "matched", "reason", "name", "institution")


@dataclass(frozen=True)
class Person:
    """Who a profile id is, as an office writes to them."""

    name: str = ""
    country: str = ""
    institution: str = ""


@dataclass(frozen=True)
class PairRow:
    applicant_id: str
    partner_id: str
    score: float  # the cosine of the two profiles' summaries
    rank: int
    reason: str
    strength: float | None = None  # matcher.score.strength of the score (None in results kept from before it)
    strength_label: str | None = None
    applicant_name: str = ""
    applicant_country: str = ""
    applicant_institution: str = ""
    partner_name: str = ""
    partner_country: str = ""
    partner_institution: str = ""


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


def named(
    rows: Iterable[PairRow], people: Mapping[str, Person], reasons: Mapping[tuple[str, str], str]
) -> list[PairRow]:
    """The rows with both sides' name, country and institution, and the reason of their pair (by
    (applicant id, partner id)) where one is given."""
    nobody = Person()
    out = []
    for r in rows:
        a, b = people.get(r.applicant_id, nobody), people.get(r.partner_id, nobody)
        out.append(replace(
            r, reason=reasons.get((r.applicant_id, r.partner_id), r.reason),
            applicant_name=a.name, applicant_country=a.country, applicant_institution=a.institution,
            partner_name=b.name, partner_country=b.country, partner_institution=b.institution,
        ))
    return out


def pair_reason(terms: Sequence[str], works: tuple[str, str] | None, label_: str | None) -> str:
    """What a pair rests on, in words: the terms both profiles use and their closest two works."""
    parts = []
    if terms:
        parts.append(f"both work on {', '.join(terms)}")
    if works is not None:
        mine, theirs = works
        parts.append(f"closest works: '{mine}' (applicant) and '{theirs}' (partner)" if mine != theirs
                     else f"closest work of both: '{mine}'")
    if not parts:
        parts.append("the two profiles are alike overall, with no single term or work in common")
    if label_ == "weak":
        parts.insert(0, "a weak match, the closest available")
    return "; ".join(parts)
