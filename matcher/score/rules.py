"""Cross-border rules as hard constraints: which candidates a query may return, and why."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matcher.index.corpus import Corpus

__all__ = ["MatchRules", "admitting_rule", "conflict_pairs", "conflicts", "eligible_mask"]


@dataclass(frozen=True)
class MatchRules:
    """Hard constraints on suggestions. Country sets are already expanded ISO alpha-2 codes."""

    exclude_own_country: bool = True
    countries: frozenset[str] | None = None
    exclude_countries: frozenset[str] = frozenset()
    exclude_coauthors: bool = False
    exclude_same_institution: bool = False
    kinds: frozenset[str] | None = None


def conflicts(corpus: Corpus, requester: int, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(co-author, same institution) flags of `rows` with respect to the requester row."""
    coauthor = corpus.link_counts(requester, rows) > 0
    return coauthor, corpus.same_institution(requester, rows)


def eligible_mask(corpus: Corpus, rules: MatchRules, requester: int | None) -> np.ndarray:
    """Boolean mask over corpus rows: True where a candidate satisfies every rule."""
    mask = corpus.active.copy()
    if requester is not None:
        mask[requester] = False
        if rules.exclude_own_country:
            mask &= corpus.countries != corpus.countries[requester]
    if rules.countries is not None:
        mask &= np.isin(corpus.countries, list(rules.countries))
    if rules.exclude_countries:
        mask &= ~np.isin(corpus.countries, list(rules.exclude_countries))
    if rules.kinds is not None:
        mask &= np.isin(corpus.kinds, list(rules.kinds))
    if requester is not None and (rules.exclude_coauthors or rules.exclude_same_institution):
        rows = np.flatnonzero(mask)
        coauthor, same = conflicts(corpus, requester, rows)
        drop = (coauthor & rules.exclude_coauthors) | (same & rules.exclude_same_institution)
        mask[rows[drop]] = False
    return mask


def admitting_rule(corpus: Corpus, rules: MatchRules, requester: int | None, row: int) -> str:
    """The rule that let a candidate in, in words."""
    country = str(corpus.countries[row])
    parts: list[str] = []
    if requester is not None and rules.exclude_own_country:
        parts.append(f"cross-border: {country} differs from the requester's country {corpus.countries[requester]}")
    if rules.countries is not None:
        parts.append(f"{country} is in the requested countries")
    if rules.exclude_countries:
        parts.append(f"{country} is not in the excluded countries")
    if not parts:
        parts.append("no country rule applied")
    return "; ".join(parts)


def conflict_pairs(corpus: Corpus, rows: np.ndarray) -> frozenset[tuple[int, int]]:
    """Pairs (i < j) of positions in `rows` that are co-authors (either side lists the other) or
    share an institution: the conflicts of interest kept apart in consortia and batches."""
    position = {int(r): i for i, r in enumerate(rows)}
    pairs: set[tuple[int, int]] = set()
    by_institution: dict[int, list[int]] = {}
    for i, r in enumerate(rows):
        for other in corpus.listed_rows(int(r)).tolist():
            j = position.get(other)
            if j is not None and j != i:
                pairs.add((min(i, j), max(i, j)))
        key = int(corpus.institution_keys[r])
        if key:
            by_institution.setdefault(key, []).append(i)
    for members in by_institution.values():
        pairs.update((a, b) for k, a in enumerate(members) for b in members[k + 1 :])
    return frozenset(pairs)
