"""Consortium assembly: several distinct teams that cover a call's aspects under the call's rules.

Pure core: numpy arrays and frozen dataclasses in, frozen dataclasses out; rows, not ids. Both
solvers maximise `objective` of `matcher.assemble.problem`.

- `assemble_greedy`: lazy greedy with rule look-ahead, then local search (any pool size).
- `assemble_exact`: OR-Tools CP-SAT, in `matcher.assemble.exact` (imported lazily), small pools.
- `assemble_teams`: several teams with either solver, each `min_difference` members from the others.
- `check_team`: the rules a team breaks; `shortlist`: rows worth giving a solver from a large pool.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Literal

import numpy as np

from matcher.assemble.problem import (
    Conflicts,
    Pool,
    Team,
    TeamRules,
    check_team,
    difference,
    make_pool,
    objective,
    within_limits,
)
from matcher.domain.errors import InfeasibleConsortium, InvalidQuery

__all__ = ["MIN_DIFFERENCE", "TeamRules", "Team", "objective", "check_team", "difference", "shortlist",
           "assemble_greedy", "assemble_exact", "assemble_teams"]

MIN_DIFFERENCE = 2  # alternative teams differ by at least this many members

_INF = 10**9
_TOL = 1e-9

def shortlist(coverage: np.ndarray, weights: np.ndarray, *, per_aspect: int = 20, total: int = 300,
              countries: Sequence[str] | np.ndarray | None = None, per_country: int = 0,
              keep: Sequence[int] = ()) -> np.ndarray:
    """Sorted rows worth giving a solver: the `total` best by weighted coverage, the `per_aspect` best on
    each aspect, the `per_country` best of each country and the `keep` rows (must-include members).

    With per_country >= max_size, country and group rules that the full pool can meet stay satisfiable
    on the shortlist (conflicts aside: drop excluded and conflicting rows before shortlisting)."""
    cov = np.asarray(coverage)
    n = cov.shape[0]
    q = cov @ np.asarray(weights, dtype=cov.dtype)
    sel = np.zeros(n, dtype=bool)
    if total >= n:
        sel[:] = True
    elif total > 0:
        sel[np.argpartition(-q, total - 1)[:total]] = True
    if 0 < per_aspect < n:  # the transposed copy has contiguous rows: much faster selection
        sel[np.argpartition(np.ascontiguousarray(cov.T), n - per_aspect, axis=1)[:, n - per_aspect:].ravel()] = True
    if countries is not None and per_country > 0:
        _, code = np.unique(np.asarray(countries), return_inverse=True)
        by = np.argsort(code, kind="stable")
        for rows in np.split(by, np.flatnonzero(np.diff(code[by])) + 1):  # one country each
            best = rows if rows.size <= per_country else rows[np.argpartition(-q[rows], per_country - 1)[:per_country]]
            sel[best] = True
    sel[list(keep)] = True
    return np.flatnonzero(sel)


def assemble_greedy(coverage: np.ndarray, weights: np.ndarray, countries: Sequence[str], rules: TeamRules,
                    conflicts: Conflicts = frozenset(), *, ids: Sequence[str] | None = None, bonus: float = 0.05,
                    gap_threshold: float = 0.35, local_search: bool = True) -> Team:
    """Lazy greedy from the must-include members, then local search.

    Each step adds the candidate of largest marginal gain (lazy priority queue, ties to the lower row) whose
    addition leaves the team completable: a small exact program over country counts checks that the slots
    left can still reach min_size, min_countries and every group minimum under max_per_country. It ignores
    conflicts among future members, so a dense conflict graph can make the greedy miss a feasible team (it
    then raises; the exact solver decides).
    Guarantees: (1 - 1/e) of the optimum under the size limit alone; 1/(p + 1) for the intersection of p
    matroids (max_per_country is a partition matroid: 1/2 with it). The lower-bound rules (min_countries,
    group minimums, min_size) are met by reserving slots, for which no constant factor holds in general.
    The local search (`local_search=True`) then replaces one non-must member by an outside candidate
    (1-swap) while F rises and every rule holds, and tries 2- and 3-swaps the cheap way (drop two or three
    non-must members, refill greedily, 1-swap again). It adds no worst-case guarantee but brings teams
    close to the optimum in practice (bench/bench_consortium.py).
    Never returns a team that breaks a rule: raises InfeasibleConsortium, naming the rule, instead.
    """
    pool = make_pool(coverage, weights, countries, ids, rules, conflicts, bonus)
    must, banned = _precheck(pool, rules.must_include, rules.excluded)
    return _team(pool, _solve_greedy(pool, must, banned, 2 * local_search), gap_threshold)


def assemble_exact(coverage: np.ndarray, weights: np.ndarray, countries: Sequence[str], rules: TeamRules,
                   conflicts: Conflicts = frozenset(), *, ids: Sequence[str] | None = None, bonus: float = 0.05,
                   gap_threshold: float = 0.35, time_limit_s: float = 10.0) -> Team:
    """The best team by CP-SAT (pools up to ~60 eligible rows); optimal unless the time limit cuts the
    search short. See `matcher.assemble.exact`."""
    return assemble_teams(coverage, weights, countries, ids, rules, conflicts, n_teams=1, method="exact",
                          gap_threshold=gap_threshold, bonus=bonus, time_limit_s=time_limit_s)[0]


def assemble_teams(coverage: np.ndarray, weights: np.ndarray, countries: Sequence[str], ids: Sequence[str] | None,
                   rules: TeamRules, conflicts: Conflicts = frozenset(), *, n_teams: int = 3,
                   method: Literal["greedy", "exact"] = "greedy", gap_threshold: float = 0.35,
                   bonus: float = 0.05, time_limit_s: float = 10.0, deadline: float | None = None,
                   min_difference: int = MIN_DIFFERENCE) -> list[Team]:
    """Up to `n_teams` teams, best first, each differing from every other by at least `min_difference`
    members (`difference`: the members one team lacks of the other, the larger count).

    exact: the best team, then the best one at least `min_difference` from every team found (a cut
    after each solve; `time_limit_s` per solve).
    greedy: the best team, then each next one by the same greedy and local search with at most
    |free members| - `min_difference` of each earlier team's free (not must-include) members, which
    keeps it that far from every earlier team (a team larger than an earlier one could also get there
    by adding members; the greedy does not look for those).
    Ties go to the lower ids (rows are put in id order first), and equal scores are ordered by the
    members' ids, so the answer does not depend on the order of the rows.
    Fewer than `n_teams` come back only when no further team that far apart exists (exact) or was
    found (greedy), or when `deadline` (a `time.monotonic()` value: the request's budget) passed
    after the first team. Raises InfeasibleConsortium, naming the rule, when no team can be formed.
    """
    if method not in ("greedy", "exact") or n_teams < 1 or min_difference < 1:
        raise InvalidQuery(f"method must be 'greedy' or 'exact', n_teams >= 1 and min_difference >= 1, got "
                           f"{method!r}, {n_teams}, {min_difference}")
    if ids is not None and list(ids) != sorted(ids):  # solve with the rows in id order, then map back
        order = np.argsort(np.asarray(ids, dtype=object), kind="stable")
        at = np.empty_like(order)
        at[order] = np.arange(len(order))
        moved = replace(rules, must_include=tuple(int(at[i]) for i in rules.must_include),
                        excluded=frozenset(int(at[i]) for i in rules.excluded))
        teams = assemble_teams(
            np.asarray(coverage)[order], weights, [countries[i] for i in order], [ids[i] for i in order], moved,
            frozenset((int(min(at[i], at[j])), int(max(at[i], at[j]))) for i, j in conflicts), n_teams=n_teams,
            method=method, gap_threshold=gap_threshold, bonus=bonus, time_limit_s=time_limit_s, deadline=deadline,
            min_difference=min_difference,
        )
        return [replace(t, members=tuple(int(order[m]) for m in t.members)) for t in teams]
    pool = make_pool(coverage, weights, countries, ids, rules, conflicts, bonus)
    must, banned = _precheck(pool, rules.must_include, rules.excluded)
    if method == "exact":
        from matcher.assemble.exact import solve_exact

        try:
            hint: list[int] | None = _solve_greedy(pool, must, banned, 2)
        except InfeasibleConsortium:
            hint = None
        found = solve_exact(pool, must, banned, n_teams=n_teams, time_limit_s=time_limit_s, hint=hint,
                            deadline=deadline, min_difference=min_difference)
        return _best_first(pool, [_team(pool, members, gap_threshold) for members in found])
    teams = [_team(pool, _solve_greedy(pool, must, banned, 2), gap_threshold)]
    while len(teams) < n_teams and (deadline is None or time.monotonic() < deadline):
        limits = []
        for team in teams:
            free = frozenset(m for m in team.members if m not in must)
            limits.append((free, len(free) - min_difference))
        if any(cap < 0 for _, cap in limits):
            break  # a team with fewer free members than min_difference: no other team of its size is that far
        try:
            members = _solve_greedy(replace(pool, limits=tuple(limits)), must, banned, 2)
        except InfeasibleConsortium:
            break
        teams.append(_team(pool, members, gap_threshold))
    return _best_first(pool, teams)


def _best_first(pool: Pool, teams: list[Team]) -> list[Team]:
    """Best score first; equal scores by the members' ids."""
    return sorted(teams, key=lambda t: (-round(t.score, 9), sorted(pool.ids[m] for m in t.members)))


def _precheck(p: Pool, must: tuple[int, ...], banned: frozenset[int]) -> tuple[tuple[int, ...], frozenset[int]]:
    """Raise InfeasibleConsortium naming the first rule that cannot be met; return the must-include rows
    (deduplicated) and every row that can never join (banned, or in conflict with a must-include row)."""
    r, M, who = p.rules, p.rules.max_per_country, ", ".join
    must = tuple(dict.fromkeys(must))
    if clash := [p.ids[i] for i in must if i in banned]:
        raise InfeasibleConsortium("must_include", f"must-include {who(clash)} also excluded")
    if len(must) > r.max_size:
        raise InfeasibleConsortium("max_size", f"{len(must)} must-include members but max_size is {r.max_size}")
    for i in must:
        if clash := [p.ids[j] for j in sorted(p.adj.get(i, ())) if j in must]:
            raise InfeasibleConsortium("conflicts", f"must-include {p.ids[i]} conflicts with must-include {who(clash)}")
    cnt = np.bincount(p.code[list(must)], minlength=len(p.names))
    if M is not None and (over := np.flatnonzero(cnt > M)).size:
        c = int(over[0])
        listed = who(p.ids[i] for i in must if p.code[i] == c)
        raise InfeasibleConsortium("max_per_country", f"{cnt[c]} must-include members from {p.names[c]} ({listed}); "
                                                      f"at most {M} per country allowed")
    banned = banned | {j for i in must for j in p.adj.get(i, ())}
    ok = np.ones(len(p.code), dtype=bool)
    ok[list(banned)] = False
    per = np.bincount(p.code[ok], minlength=len(p.names))
    cap = per if M is None else np.minimum(per, M)
    if cap.sum() < r.min_size:
        limit = "" if M is None else f" with at most {M} per country"
        raise InfeasibleConsortium("min_size", f"at least {r.min_size} members required; eligible candidates "
                                               f"allow only {cap.sum()}{limit}")
    present = [p.names[c] for c in np.flatnonzero(per)]
    if r.min_countries > min(len(present), r.max_size):
        why = (f"eligible candidates come from only {len(present)}: {who(present)}" if len(present) < r.min_countries
               else f"a team has at most {r.max_size} members")
        raise InfeasibleConsortium("min_countries", f"at least {r.min_countries} countries required; {why}")
    for k, (name, _, least) in enumerate(r.group_min):
        inside = np.flatnonzero(ok & (p.groups[p.code, k] > 0))
        if (allowed := min(int(cap[p.groups[:, k] > 0].sum()), r.max_size)) < least:
            limit = "" if allowed >= inside.size else f" (max_size {r.max_size}, max_per_country {M})"
            listed = who([f"{p.ids[i]} ({p.countries[i]})" for i in inside[:10]] + ["..."] * (inside.size > 10))
            raise InfeasibleConsortium(f"group_min {name}", f"at least {least} members from {name} required; only "
                                       f"{inside.size} eligible candidate{'s' * (inside.size != 1)} from it{limit}"
                                       + f": {listed}" * bool(listed))
    need = _extra_needed(p, cnt, per - cnt, len(must))
    if need > r.max_size - len(must):
        shown = "more than the eligible countries allow" if need >= _INF else str(need)
        raise InfeasibleConsortium("rules", f"min_size, min_countries and the group minimums together need {shown} "
                                   f"members besides the {len(must)} must-include ones, but max_size leaves "
                                   f"{r.max_size - len(must)}")
    return must, banned


def _extra_needed(p: Pool, cnt: np.ndarray, avail: np.ndarray, size: int) -> int:
    """Fewest further members meeting min_size, min_countries and every group minimum when `avail[c]` more
    candidates of country c may join a team holding `cnt[c]`; _INF if impossible.

    Exact over country counts: countries with the same groups and novelty are interchangeable, so a small
    dynamic program over the deficits decides. Conflicts among further members are ignored (a relaxation)."""
    r = p.rules
    cap = avail if r.max_per_country is None else np.minimum(avail, np.maximum(r.max_per_country - cnt, 0))
    size_need = max(0, r.min_size - size)
    if size_need > cap.sum():
        return _INF
    start = (max(0, r.min_countries - int(np.count_nonzero(cnt))),
             *(max(0, least - int(cnt @ p.groups[:, k])) for k, (_, _, least) in enumerate(r.group_min)))
    if not any(start):
        return size_need
    kinds: dict[tuple[tuple[int, ...], bool], tuple[int, int]] = {}  # (groups, new country) -> (slots, countries)
    for c in np.flatnonzero(cap):
        kind = (tuple(p.groups[c].tolist()), bool(cnt[c] == 0))
        slots, n_countries = kinds.get(kind, (0, 0))
        kinds[kind] = (slots + int(cap[c]), n_countries + 1)
    states = {start: 0}  # deficits (countries, each group) -> fewest members that reach them
    for (sig, new), (slots, n_countries) in kinds.items():
        nxt = dict(states)
        for st, picks in states.items():
            useful = max([st[0] if new else 0] + [d for d, s in zip(st[1:], sig, strict=True) if s])
            for m in range(1, min(slots, useful) + 1):
                after = (max(0, st[0] - min(m, n_countries)) if new else st[0],
                         *(max(0, d - m) if s else d for d, s in zip(st[1:], sig, strict=True)))
                if picks + m < nxt.get(after, _INF):
                    nxt[after] = picks + m
        states = nxt
    best = states.get(tuple(0 for _ in start), _INF)
    return best if best >= _INF else max(best, size_need)


def _solve_greedy(p: Pool, must: tuple[int, ...], banned: frozenset[int], effort: int) -> list[int]:
    """Lazy greedy with look-ahead (effort 0), then 1-swaps (1), then 2- and 3-swaps (2)."""
    r, (n, n_aspects) = p.rules, p.cov.shape
    rules = replace(r, must_include=must, excluded=banned)
    team = list(must)
    gone = np.zeros(n, dtype=bool)  # in the team, banned, conflicting, or no longer completable
    gone[[*banned, *team, *(j for i in team for j in p.adj.get(i, ()))]] = True
    cur = p.cov[team].max(axis=0) if team else np.zeros(n_aspects)
    bc = p.bonus / r.max_size
    idx = np.flatnonzero(~gone)
    heap = list(zip((-(np.maximum(p.cov[idx] - cur, 0) @ p.w + bc * p.q[idx])).tolist(), idx.tolist(), strict=True))
    heapq.heapify(heap)
    fresh = np.zeros(n, dtype=np.int64)  # the step at which each gain in the heap was computed
    step = 0
    while len(team) < r.max_size:
        cnt = np.bincount(p.code[team], minlength=len(p.names))
        avail = np.bincount(p.code[~gone], minlength=len(p.names))
        cache: dict[int, bool] = {}
        pick: tuple[int, float] | None = None
        while heap:
            neg, i = heapq.heappop(heap)
            if gone[i]:
                continue
            if p.limits and not within_limits(p, [*team, i]):
                gone[i] = True  # a limit only tightens as the team grows
                continue
            if fresh[i] != step:  # a stale gain is an upper bound (submodularity): re-evaluate, put back
                fresh[i] = step
                heapq.heappush(heap, (-float(np.maximum(p.cov[i] - cur, 0) @ p.w + bc * p.q[i]), i))
            elif _addable(p, i, cnt, avail, gone, len(team), cache):
                pick = (i, -neg)
                break
            else:
                gone[i] = True  # not completable with i now, hence never again
        if pick is None or (pick[1] <= _TOL and not check_team(team, p.countries, rules, p.conflicts, p.adj)):
            break
        team.append(pick[0])
        gone[[pick[0], *p.adj.get(pick[0], ())]] = True
        cur = np.maximum(cur, p.cov[pick[0]])
        step += 1
    if bad := check_team(team, p.countries, rules, p.conflicts, p.adj):
        hint = ("; conflicts may block it: try the exact solver (API `exact: true`, CLI `--exact`)"
                if p.conflicts else "")
        raise InfeasibleConsortium("rules", f"the greedy found no team meeting every rule ({bad[0]}){hint}")
    team = _swap_search(p, team, rules) if effort >= 1 else team
    return _drop_search(p, team, must, banned) if effort >= 2 else team


def _addable(p: Pool, i: int, cnt: np.ndarray, avail: np.ndarray, gone: np.ndarray, size: int,
             cache: dict[int, bool]) -> bool:
    """Can the team still be completed once i joins? Cached per country for rows without live conflicts."""
    c = int(p.code[i])
    if p.rules.max_per_country is not None and cnt[c] >= p.rules.max_per_country:
        return False
    partners = [j for j in p.adj.get(i, ()) if not gone[j]]
    if not partners and c in cache:
        return cache[c]
    cnt, avail = cnt.copy(), avail.copy()
    cnt[c] += 1
    avail[c] -= 1
    np.subtract.at(avail, p.code[partners], 1)
    ok = _extra_needed(p, cnt, avail, size + 1) <= p.rules.max_size - size - 1
    if not partners:
        cache[c] = ok
    return ok


def _swap_search(p: Pool, team: list[int], rules: TeamRules, rounds: int = 200) -> list[int]:
    """Best-improvement 1-swap: replace a member not in rules.must_include by an outside row."""
    fixed, orig = set(rules.must_include), set(p.rules.must_include)
    bc = p.bonus / p.rules.max_size
    value = objective(p.cov, p.w, team, p.rules, p.bonus)
    outside = np.ones(len(p.code), dtype=bool)
    outside[list(rules.excluded)] = False
    for _ in range(rounds):
        best: tuple[float, int, int] | None = None
        outside[team] = False
        extra = sum(p.q[j] for j in team if j not in orig)  # bonus mass of the members
        for pos, m in enumerate(team):
            if m in fixed:
                continue
            rest = team[:pos] + team[pos + 1:]
            base = p.cov[rest].max(axis=0) if rest else np.zeros(p.cov.shape[1])
            vals = np.maximum(p.cov, base) @ p.w + bc * (p.q + extra - p.q[m] * (m not in orig))
            cand = np.flatnonzero(outside & (vals > (best[0] if best else value + _TOL)))
            for o in cand[np.lexsort((cand, -vals[cand]))]:
                swapped = [*rest, int(o)]
                if not check_team(swapped, p.countries, rules, p.conflicts, p.adj) and within_limits(p, swapped):
                    best = (float(vals[o]), pos, int(o))
                    break
        if best is None:
            break
        outside[team[best[1]]] = True
        team = team[:best[1]] + [best[2]] + team[best[1] + 1:]
        value = objective(p.cov, p.w, team, p.rules, p.bonus)
    return team


def _drop_search(p: Pool, team: list[int], must: tuple[int, ...], banned: frozenset[int]) -> list[int]:
    """Cheap 2- and 3-swaps: drop two (then three, with at most 8 free members) non-must members, refill
    greedily and 1-swap the newcomers; take the first refill that raises F, 1-swap it whole, repeat."""
    rules = replace(p.rules, must_include=must, excluded=banned)
    value = objective(p.cov, p.w, team, p.rules, p.bonus)
    improved = True
    while improved:
        improved = False
        free = [m for m in team if m not in must]
        for drop in itertools.chain(*(itertools.combinations(free, k) for k in ((2, 3) if len(free) <= 8 else (2,)))):
            try:
                refill = _solve_greedy(p, tuple(m for m in team if m not in drop), banned, 1)
            except InfeasibleConsortium:
                continue
            if objective(p.cov, p.w, refill, p.rules, p.bonus) > value + _TOL:
                team, improved = _swap_search(p, refill, rules), True
                value = objective(p.cov, p.w, team, p.rules, p.bonus)
                break
    return team


def _team(p: Pool, members: Sequence[int], gap_threshold: float) -> Team:
    """Must-include first, then the rest in greedy order of marginal gain in F (ties: lower row)."""
    order = [i for i in dict.fromkeys(p.rules.must_include) if i in members]
    rest = sorted(set(members) - set(order))
    cur = p.cov[order].max(axis=0) if order else np.zeros(p.cov.shape[1])
    while rest:
        gains = np.maximum(p.cov[rest] - cur, 0) @ p.w + p.bonus / p.rules.max_size * p.q[rest]
        order.append(rest.pop(int(np.argmax(gains))))
        cur = np.maximum(cur, p.cov[order[-1]])
    cur.setflags(write=False)
    return Team(tuple(order), objective(p.cov, p.w, order, p.rules, p.bonus), cur,
                tuple(int(a) for a in np.flatnonzero(cur < gap_threshold)), tuple(p.countries[i] for i in order))
