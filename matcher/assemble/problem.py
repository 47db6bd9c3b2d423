"""The team problem of a call: the rules on rows, a team, the validated inputs both solvers read
(`Pool`), and the one objective they maximise:

    F(S) = sum_a w_a * max_{i in S} c[i, a]  +  bonus * sum_{i in S, not must-include} q_i / max_size

with q_i = sum_a w_a * c[i, a], candidate i's weighted coverage alone. The first term is weighted
coverage (monotone submodular); the second is a small modular term, at most `bonus`, that prefers
relevant members among those who add no new coverage. F stays monotone submodular.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from matcher.domain.errors import InfeasibleConsortium, InvalidQuery

__all__ = ["Conflicts", "Pool", "Team", "TeamRules", "check_team", "difference", "make_pool", "objective",
           "within_limits"]

Conflicts = frozenset[tuple[int, int]]


@dataclass(frozen=True)
class TeamRules:
    """A call's rules on row numbers. `group_min` items: (name, member countries, at least P members)."""

    min_size: int
    max_size: int
    min_countries: int = 1
    max_per_country: int | None = None
    group_min: tuple[tuple[str, frozenset[str], int], ...] = ()
    must_include: tuple[int, ...] = ()
    excluded: frozenset[int] = frozenset()


@dataclass(frozen=True, eq=False)
class Team:
    """Rows: must-include first, then the others in order of marginal contribution to F."""

    members: tuple[int, ...]
    score: float  # F(members)
    coverage: np.ndarray  # per-aspect team coverage, read-only
    gaps: tuple[int, ...]  # aspects whose team coverage is below the gap threshold
    countries: tuple[str, ...]  # each member's country, aligned with `members`


@dataclass(frozen=True, eq=False)
class Pool:
    """Validated inputs: countries as codes, group membership per code, conflicts as adjacency."""

    cov: np.ndarray  # (n, A) float64
    w: np.ndarray  # (A,)
    q: np.ndarray  # (n,) weighted coverage of each candidate alone
    code: np.ndarray  # (n,) country code of each row
    names: tuple[str, ...]  # country of each code
    groups: np.ndarray  # (n_codes, n_groups) 0/1: code in group
    countries: tuple[str, ...]
    ids: tuple[str, ...]
    rules: TeamRules
    conflicts: Conflicts
    adj: dict[int, set[int]]
    bonus: float
    limits: tuple[tuple[frozenset[int], int], ...] = ()  # (rows, at most this many of them in a team)


def objective(coverage: np.ndarray, weights: np.ndarray, members: Sequence[int], rules: TeamRules,
              bonus: float = 0.05) -> float:
    """F(members), as defined in the module docstring, in float64."""
    if not len(members):
        return 0.0
    cov, w = np.asarray(coverage, dtype=np.float64), np.asarray(weights, dtype=np.float64)
    must = set(rules.must_include)
    free = [i for i in members if i not in must]
    extra = float(cov[free].sum(axis=0) @ w) if free else 0.0
    return float(cov[list(members)].max(axis=0) @ w) + bonus * extra / rules.max_size


def difference(a: Sequence[int], b: Sequence[int]) -> int:
    """How many members two teams differ by: the members one lacks of the other, the larger count
    (a swap of one member is 1; a team and the same team plus two members, 2)."""
    first, second = set(a), set(b)
    return max(len(first - second), len(second - first))


def within_limits(p: Pool, members: Sequence[int]) -> bool:
    """Whether a team keeps `p.limits` (at most `cap` of each limited set of rows)."""
    team = set(members)
    return all(len(team & rows) <= cap for rows, cap in p.limits)


def check_team(team_members: Sequence[int], countries: Sequence[str], rules: TeamRules,
               conflicts: Conflicts = frozenset(), adj: dict[int, set[int]] | None = None) -> list[str]:
    """The rules a team breaks, each as 'rule: detail'; empty when the team is fine. `adj`, the
    conflicts as adjacency (`Pool.adj`), makes the conflict check cost the members' own conflicts."""
    team, bad = list(team_members), []
    members = set(team)
    if len(members) != len(team):
        bad.append("duplicates: a candidate appears twice")
    if not rules.min_size <= len(team) <= rules.max_size:
        bad.append(f"size: {len(team)} members, {rules.min_size}..{rules.max_size} allowed")
    if missing := [i for i in rules.must_include if i not in members]:
        bad.append(f"must_include: missing {missing}")
    if banned := sorted(members & rules.excluded):
        bad.append(f"excluded: {banned} in team")
    if adj is not None:
        inside = sorted((i, j) for i in members for j in adj.get(i, ()) if j in members and (i, j) in conflicts)
    elif len(conflicts) > len(members) ** 2:  # a large pool's conflicts: look up the team's pairs instead
        inside = sorted((i, j) for i in members for j in members if i != j and (i, j) in conflicts)
    else:
        inside = sorted((i, j) for i, j in conflicts if i in members and j in members and i != j)
    if pairs := inside:
        bad.append(f"conflicts: {pairs}")
    per: dict[str, int] = {}
    for i in team:
        per[countries[i]] = per.get(countries[i], 0) + 1
    if rules.max_per_country is not None and (over := sorted(c for c, k in per.items() if k > rules.max_per_country)):
        bad.append(f"max_per_country: more than {rules.max_per_country} from {over}")
    if len(per) < rules.min_countries:
        bad.append(f"min_countries: {len(per)} countries, at least {rules.min_countries} required")
    for name, group, least in rules.group_min:
        if (k := sum(n for c, n in per.items() if c in group)) < least:
            bad.append(f"group_min {name}: {k} members, at least {least} required")
    return bad


def make_pool(coverage: np.ndarray, weights: np.ndarray, countries: Sequence[str], ids: Sequence[str] | None,
          rules: TeamRules, conflicts: Conflicts, bonus: float) -> Pool:
    cov, w = np.asarray(coverage, dtype=np.float64), np.asarray(weights, dtype=np.float64)
    if cov.ndim != 2 or not np.all(np.isfinite(cov)) or cov.min(initial=0) < 0 or cov.max(initial=0) > 1 + 1e-6:
        raise InvalidQuery("coverage must be a finite (n_candidates, n_aspects) array in [0, 1]")
    n = cov.shape[0]
    if w.shape != (cov.shape[1],) or w.min(initial=0) < 0 or abs(w.sum() - 1) > 1e-6:
        raise InvalidQuery("weights must be n_aspects non-negative numbers summing to 1")
    ids = tuple(ids) if ids is not None else tuple(str(i) for i in range(n))
    if len(countries) != n or len(ids) != n:
        raise InvalidQuery(f"countries and ids must have one entry per candidate ({n})")
    rows = [*rules.must_include, *rules.excluded, *(k for pair in conflicts for k in pair)]
    if any(not 0 <= i < n for i in rows) or any(i == j for i, j in conflicts) or bonus < 0:
        raise InvalidQuery("must_include, excluded and conflicts must name distinct rows; bonus must be >= 0")
    if not 1 <= rules.min_size <= rules.max_size:
        raise InfeasibleConsortium("size", f"need 1 <= min_size <= max_size, got {rules.min_size} and {rules.max_size}")
    names = tuple(sorted({str(c) for c in countries}))
    index = {c: k for k, c in enumerate(names)}
    groups = np.array([[c in g for _, g, _ in rules.group_min] for c in names], dtype=np.int64)
    adj: dict[int, set[int]] = {}
    for i, j in conflicts:
        adj.setdefault(i, set()).add(j)
        adj.setdefault(j, set()).add(i)
    return Pool(cov, w, cov @ w, np.array([index[str(c)] for c in countries], dtype=np.int64), names,
                 groups.reshape(len(names), len(rules.group_min)), tuple(str(c) for c in countries), ids, rules,
                 conflicts, adj, float(bonus))
