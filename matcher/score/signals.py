"""Non-text signals about a candidate: how recently it was active, and what kind of organisation it
is against what kind of partner the requester usually works with.

Both are small additive priors (weights in `ScoringConfig`, chosen by `matcher eval`): they reorder
candidates of similar relevance, never replace it.
"""

from __future__ import annotations

import numpy as np

from matcher.index.segment import N_ROLE_CATEGORIES

__all__ = ["ROLE_PSEUDO_COUNT", "recency", "role_lift", "role_prior"]

ROLE_PSEUDO_COUNT = 5.0  # links added to each observed and expected count: a rare pair stays near neutral


def recency(last_years: np.ndarray, reference_year: int, half_life: float) -> np.ndarray:
    """1 for a profile active in `reference_year`, halving every `half_life` years before it; 0 for a
    profile without a dated work (it gets no bonus, and no penalty beyond that)."""
    years = np.asarray(last_years, dtype=np.float64)
    gap = np.maximum(0.0, reference_year - years)
    return np.where(years > 0, 0.5 ** (gap / half_life), 0.0).astype(np.float32)


def role_lift(links: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """From counts of links between role categories (`Segment.role_links`) and of rows per category:
    the log-lift of each pair of categories over what their shares alone predict, and of each
    category as a partner at all (its share of partnerships over its share of rows), both clipped
    to [-1, 1].
    Rows and columns of organisations without a role are 0: they are neither helped nor hurt."""
    counts = np.asarray(links, dtype=np.float64).copy()
    counts[:2, :] = counts[:, :2] = 0.0  # categories 0 and 1: no role given
    total = counts.sum()
    pair = np.zeros((N_ROLE_CATEGORIES, N_ROLE_CATEGORIES), dtype=np.float32)
    single = np.zeros(N_ROLE_CATEGORIES, dtype=np.float32)
    if total == 0:
        return pair, single
    as_owner, as_partner = counts.sum(axis=1), counts.sum(axis=0)
    expected = np.outer(as_owner, as_partner) / total
    lift = np.log((counts + ROLE_PSEUDO_COUNT) / (expected + ROLE_PSEUDO_COUNT))
    pair[2:, 2:] = np.clip(lift[2:, 2:], -1.0, 1.0)
    known = np.asarray(rows, dtype=np.float64)[2:]
    if known.sum():
        share, expected_share = (as_partner[2:] + ROLE_PSEUDO_COUNT), (known / known.sum()) * total
        single[2:] = np.clip(np.log(share / (expected_share + ROLE_PSEUDO_COUNT)), -1.0, 1.0) * (known > 0)
    return pair, single


def role_prior(
    lifts: tuple[np.ndarray, np.ndarray], categories: np.ndarray, requester_category: int | None
) -> np.ndarray:
    """Per candidate (by role category): the pair lift with the requester's category when the
    requester has a role, else the category's own lift as a partner."""
    pair, single = lifts
    if requester_category is not None and requester_category >= 2:
        return pair[requester_category, categories]
    return single[categories]
