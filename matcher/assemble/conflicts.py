"""Why a call's rules fail when co-authors and colleagues are kept apart: the pairs, in words.

When no team is found with conflicts of interest kept apart, the solver's own message cannot say
whether the conflicts are the cause, nor which pairs. `explain_conflicts` looks again without the
conflict rule: if a team exists then, the conflicts are the cause, and the message names the pairs
that team would put together, why each is a conflict, which rule keeping them apart breaks, and
how to allow them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from matcher.assemble.consortium import assemble_teams
from matcher.assemble.problem import Conflicts, TeamRules, check_team
from matcher.domain.errors import InfeasibleConsortium
from matcher.index.corpus import Corpus
from matcher.score.rules import conflict_pairs

__all__ = ["ALLOW_CONFLICTS", "EXACT_SOLVER", "conflict_reason", "explain_conflicts"]

ALLOW_CONFLICTS = "To allow conflicts within a team: API `exclude_conflicts: false`, CLI `--allow-conflicts`"
EXACT_SOLVER = "the exact solver (API `exact: true`, CLI `--exact`)"
_SHOWN = 5  # pairs named in a message
_CLIQUE_ROWS = 30  # a group's conflicts are analysed exactly up to this many candidates


def conflict_reason(corpus: Corpus, a: int, b: int) -> str:
    """Why two corpus rows conflict: co-authors (either lists the other), or colleagues."""
    if b in corpus.listed_rows(a) or a in corpus.listed_rows(b):
        return "co-authors"
    return f"both at {corpus.institution_names[a]}"


def explain_conflicts(
    corpus: Corpus, error: InfeasibleConsortium, *, short: np.ndarray, coverage: np.ndarray, weights: np.ndarray,
    rules: TeamRules, conflicts: Conflicts, pool: np.ndarray, exact: bool,
) -> InfeasibleConsortium:
    """The error to report for a call that failed with conflicts kept apart. `short` are the corpus
    rows the solver saw (`coverage`, `rules` and `conflicts` on their positions), `pool` every
    eligible corpus row. Returns `error` itself when the conflicts are not the cause."""
    countries = [str(c) for c in corpus.countries[short]]
    ids = [corpus.ids[r] for r in short]
    try:
        relaxed = assemble_teams(coverage, weights, countries, ids, rules, frozenset(), n_teams=1)[0].members
    except InfeasibleConsortium:
        return error  # no team even with conflicts allowed: the rules themselves are the cause
    inside = sorted((i, j) for i, j in conflicts if i in relaxed and j in relaxed)
    groups = _group_limits(corpus, rules, pool)
    if not inside and not groups:
        hint = "" if exact else f"; the greedy can miss a team when conflicts are dense: try {EXACT_SOLVER}"
        return InfeasibleConsortium(error.rule, error.reason + hint)
    parts = list(groups)
    if inside:
        named = ", ".join(f"{ids[i]} and {ids[j]} ({conflict_reason(corpus, int(short[i]), int(short[j]))})"
                          for i, j in inside[:_SHOWN])
        more = f" (+{len(inside) - _SHOWN} more)" if len(inside) > _SHOWN else ""
        broken = [b for b in check_team(_apart(relaxed, inside, rules.must_include), countries, rules)
                  if not b.startswith("size")] if not groups else []
        parts.append(f"without the conflict rule the best team puts together {named}{more}"
                     + (f", and keeping them apart breaks {'; '.join(broken)}" if broken else ""))
    proved = exact or bool(groups)
    if not proved:
        lead = "the greedy found no team that meets every rule while co-authors and colleagues are kept apart"
    else:
        lead = "no team meets every rule while co-authors and colleagues are kept apart"
        lead += " (proved by the exact solver)" if exact and not groups else ""
    hint = ALLOW_CONFLICTS + ("" if proved else f"; or try {EXACT_SOLVER}, which can find a team the greedy misses")
    return InfeasibleConsortium("conflicts", f"{lead}: {'; '.join(parts)}. {hint}")


def _apart(team: Sequence[int], pairs: list[tuple[int, int]], must: Sequence[int]) -> list[int]:
    """The team without enough members to keep every pair apart (the one in most pairs goes first)."""
    left, fixed, members = list(pairs), set(must), list(team)
    while left:
        counts: dict[int, int] = {}
        for pair in left:
            for m in pair:
                if m not in fixed:
                    counts[m] = counts.get(m, 0) + 1
        if not counts:
            break
        drop = min(counts, key=lambda m: (-counts[m], m))
        members.remove(drop)
        left = [p for p in left if drop not in p]
    return members


def _group_limits(corpus: Corpus, rules: TeamRules, pool: np.ndarray) -> list[str]:
    """For each group minimum that the conflicts inside the group make impossible: why, in words.
    Exact for groups of up to `_CLIQUE_ROWS` eligible candidates; larger groups are not analysed."""
    out = []
    for name, members, least in rules.group_min:
        rows = pool[np.isin(corpus.countries[pool], list(members))]
        if not 2 <= len(rows) <= _CLIQUE_ROWS or len(rows) < least:
            continue
        pairs = sorted(conflict_pairs(corpus, rows))
        most = _most_apart(len(rows), pairs)
        if most >= least:
            continue
        named = ", ".join(f"{corpus.ids[rows[i]]} and {corpus.ids[rows[j]]} "
                          f"({conflict_reason(corpus, int(rows[i]), int(rows[j]))})" for i, j in pairs[:3])
        more = f", +{len(pairs) - 3} more pairs" if len(pairs) > 3 else ""
        out.append(f"group_min {name} needs {least} members from {name}, but its {len(rows)} eligible candidates "
                   f"conflict with each other so that at most {most} can join one team ({named}{more})")
    return out


def _most_apart(n: int, pairs: Sequence[tuple[int, int]]) -> int:
    """The size of a largest set of the n rows with no pair inside (a maximum independent set)."""
    import networkx as nx

    if not pairs:
        return n
    involved = {i for pair in pairs for i in pair}
    _, size = nx.max_weight_clique(nx.complement(nx.Graph(list(pairs))), weight=None)
    return int(size) + n - len(involved)  # rows in no conflict join any such set
