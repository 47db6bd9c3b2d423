"""Fair exposure in batch top-k lists: who is suggested how often, and a capped allocation.

Plain top-k hands most suggestions to a few central profiles ("stars": broad, very active
people whose summary vector sits near many others), and under-connected countries get few.
`fair_topk` is a capacity-constrained top-k in the spirit of FairRec (Patro et al., WWW 2020):
every applicant still gets k partners from its own best candidates, but nobody is suggested more
than `cap` times, so the slots a star would take go to the next-best people, who thereby get a
share of exposure they would not have had. An optional preference lifts partners from chosen
countries (e.g. widening or low-income countries) by a small score bonus when the lists are
filled; the scores reported stay the plain similarities.

`exposure_summary` measures a result: the Gini coefficient of how often each applicant is
suggested (0: everyone equally, 1: one person takes all), and per country the share of the pool
against the share of suggestions.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from matcher.domain.countries import GROUPS

__all__ = [
    "CANDIDATES_FACTOR", "DEFAULT_CAP_FACTOR", "FairTopk", "exposure_cap", "exposure_summary", "fair_topk", "gini",
]

DEFAULT_CAP_FACTOR = 1.5  # nobody is suggested more than 1.5 times as often as the average person
CANDIDATES_FACTOR = 4  # each applicant's list is filled from its 4k best candidates


@dataclass(frozen=True)
class FairTopk:
    """The fairness option of a top-k batch: the exposure cap and the country preference."""

    cap: int | None = None  # suggestions per person at most; None: `DEFAULT_CAP_FACTOR` x the average
    prefer_countries: frozenset[str] = frozenset()  # partners from these countries get `prefer_weight`
    prefer_weight: float = 0.05  # added to their similarity when choosing (not to the reported score)
    prefer_names: tuple[str, ...] = ()  # the countries and groups as the user named them


def exposure_cap(n_applicants: int, n_partners: int, k: int, factor: float = DEFAULT_CAP_FACTOR) -> int:
    """`factor` times the average exposure (k suggestions per applicant spread over the partners)."""
    return max(1, math.ceil(factor * n_applicants * k / max(n_partners, 1)))


def fair_topk(
    indices: np.ndarray, scores: np.ndarray, k: int, *, cap: int, bonus: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """k partners per row from wider candidate lists, nobody more than `cap` times.

    indices, scores: (n, K) candidate lists from `topk_pairs` (K >= k, -1 / -inf where short),
    best first. bonus: optional (n_rows,) score bonus per partner row, used only to choose.
    Edges are taken best (score + bonus) first, globally (a greedy capacitated b-matching): an
    applicant takes an edge while it has fewer than k partners and the partner fewer than `cap`
    suggestions. An applicant whose candidates are all capped is then filled from its own best
    remaining candidates regardless of the cap: the cap spreads exposure, it never leaves a list
    short. Returns (n, k) arrays like `topk_pairs`, each row by score descending, ties by index.
    """
    n, width = indices.shape
    k = min(k, width)
    owner = np.repeat(np.arange(n, dtype=np.int64), width)
    cols = indices.reshape(-1)
    keep = cols >= 0
    owner, cols, base = owner[keep], cols[keep], scores.reshape(-1)[keep].astype(np.float64)
    choose = base + (bonus[cols] if bonus is not None else 0.0)
    order = np.lexsort((cols, owner, -choose))  # best first; ties by applicant, then partner
    taken = np.zeros(len(cols), dtype=bool)
    filled = np.zeros(n, dtype=np.int64)
    exposure: Counter[int] = Counter()
    for e in order.tolist():
        a, c = int(owner[e]), int(cols[e])
        if filled[a] < k and exposure[c] < cap:
            taken[e] = True
            filled[a] += 1
            exposure[c] += 1
    for e in order.tolist():  # lists the cap left short: their own best remaining candidates
        a = int(owner[e])
        if filled[a] < k and not taken[e]:
            taken[e] = True
            filled[a] += 1
    out_i = np.full((n, k), -1, dtype=np.int64)
    out_s = np.full((n, k), -np.inf, dtype=np.float32)
    pick = np.flatnonzero(taken)
    pick = pick[np.lexsort((cols[pick], -base[pick], owner[pick]))]
    slot = np.arange(len(pick)) - np.searchsorted(owner[pick], owner[pick])
    out_i[owner[pick], slot] = cols[pick]
    out_s[owner[pick], slot] = base[pick]
    return out_i, out_s


def gini(counts: Iterable[float]) -> float:
    """Gini coefficient of non-negative counts (0: all equal; towards 1: one takes all)."""
    x = np.sort(np.asarray(list(counts), dtype=np.float64))
    if len(x) == 0 or x.sum() == 0:
        return 0.0
    ranks = np.arange(1, len(x) + 1)
    return float((2 * (ranks * x).sum()) / (len(x) * x.sum()) - (len(x) + 1) / len(x))


def exposure_summary(partners: Iterable[str], countries: Mapping[str, str]) -> dict[str, Any]:
    """How suggestions spread over a pool: `partners` lists every suggestion's partner id (repeats
    count), `countries` maps every applicant in the pool to its country.

    Returns the Gini of exposure over the whole pool (people never suggested count as zeros), the
    most any one person was suggested, the share of suggestions going to widening and to low- and
    lower-middle-income countries beside their share of the pool, and per country: applicants, share
    of the pool, suggestions, share of suggestions.
    """
    per_person = Counter(p for p in partners if p in countries)
    total = sum(per_person.values())
    pool = Counter(countries.values())
    got: Counter[str] = Counter()
    for person, count in per_person.items():
        got[countries[person]] += count
    n = max(len(countries), 1)

    def share(codes: frozenset[str]) -> dict[str, float]:
        in_pool = sum(c for code, c in pool.items() if code in codes)
        suggested = sum(c for code, c in got.items() if code in codes)
        return {"pool_share": round(in_pool / n, 4), "suggestion_share": round(suggested / max(total, 1), 4)}

    by_country = [
        {"country": code, "applicants": pool[code], "pool_share": round(pool[code] / n, 4),
         "suggestions": got[code], "suggestion_share": round(got[code] / max(total, 1), 4)}
        for code in sorted(pool, key=lambda c: (-pool[c], c))
    ]
    counts = [per_person.get(person, 0) for person in countries]
    return {
        "gini": round(gini(counts), 4),
        "suggestions": total,
        "never_suggested": sum(1 for c in counts if c == 0),
        "most_suggested": max(counts, default=0),
        "widening": share(GROUPS["widening"].members),
        "low_income": share(GROUPS["low-income"].members),
        "countries": by_country,
    }
