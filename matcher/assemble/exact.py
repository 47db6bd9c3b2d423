"""Exact consortium assembly with OR-Tools CP-SAT, for small pools (up to ~60 eligible rows).

Called through `matcher.assemble.consortium.assemble_exact` / `assemble_teams(method="exact")`, which validate
the inputs and check the rules first. Model: x_i = 1 when row i joins. For each aspect a, z_(a,i) <= x_i
marks the member that provides the team's coverage of a, sum_i z_(a,i) <= 1, and the objective counts
w_a * (c[i, a] - base_a) for it, base_a being what the must-include members already cover (rows that
cannot beat base_a get no z). The bonus term of `objective` is linear in x. Floats are scaled to
integers by `_SCALE` (1e9), so the integer optimum is within about (n_aspects + max_size) / 1e9 of the
float optimum; callers rescore teams with `objective`. Every rule is a linear constraint. One search
worker and a fixed seed keep it deterministic (unless a time limit cuts the search short).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
from ortools.sat.python import cp_model

from matcher.assemble.problem import Pool
from matcher.domain.errors import InfeasibleConsortium, InvalidQuery

__all__ = ["solve_exact"]

_SCALE = 1_000_000_000


def solve_exact(pool: Pool, must: tuple[int, ...], banned: frozenset[int], *,
                n_teams: int = 1, time_limit_s: float = 10.0,
                hint: Sequence[int] | None = None, max_rows: int = 200,
                deadline: float | None = None, min_difference: int = 1) -> list[list[int]]:
    """The `n_teams` best member sets, best first, each at least `min_difference` members from the
    others (`matcher.assemble.problem.difference`); a cut after each one.

    `must` rows join, `banned` rows never do (the caller has checked the rules for obvious
    infeasibility). Raises InfeasibleConsortium when no team exists (proved) or none was found
    within the time limit; returns fewer sets when no further distinct team exists or `deadline`
    (`time.monotonic()`) passed after the first one. Each solve gets `time_limit_s`, never beyond it.
    """
    r = pool.rules
    gone = set(banned) | {j for i in must for j in pool.adj.get(i, ())}
    rows = [i for i in range(len(pool.code)) if i not in gone or i in must]
    if len(rows) > max_rows:
        raise InvalidQuery(f"the exact solver takes at most {max_rows} eligible candidates, "
                           f"got {len(rows)}: shortlist first or use the default solver "
                           "(API `exact: false`, CLI without `--exact`)")
    model = cp_model.CpModel()
    x = {i: model.new_bool_var(f"x{i}") for i in rows}
    for i in must:
        model.add(x[i] == 1)
    model.add(sum(x.values()) >= r.min_size)
    model.add(sum(x.values()) <= r.max_size)
    by_country: dict[int, list[int]] = {}
    for i in rows:
        by_country.setdefault(int(pool.code[i]), []).append(i)
    if r.max_per_country is not None:
        for members in by_country.values():
            model.add(sum(x[i] for i in members) <= r.max_per_country)
    if r.min_countries > 1:
        present = []
        for c, members in sorted(by_country.items()):
            u = model.new_bool_var(f"country{c}")
            model.add(u <= sum(x[i] for i in members))
            present.append(u)
        model.add(sum(present) >= r.min_countries)
    for k, (_, _, least) in enumerate(r.group_min):
        model.add(sum(x[i] for i in rows if pool.groups[pool.code[i], k]) >= least)
    for i in rows:
        for j in pool.adj.get(i, ()):
            if i < j and j in x:
                model.add(x[i] + x[j] <= 1)
    model.maximize(_objective_terms(pool, model, x, must))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = 0
    solver.parameters.max_time_in_seconds = time_limit_s
    if hint is not None:
        hinted = set(hint)
        for i in rows:
            model.add_hint(x[i], i in hinted)
    teams: list[list[int]] = []
    status = cp_model.UNKNOWN
    while len(teams) < n_teams:
        if deadline is not None and teams:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            solver.parameters.max_time_in_seconds = min(time_limit_s, left)
        status = solver.solve(model)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            break
        team = [i for i in rows if solver.value(x[i])]
        teams.append(team)
        _keep_apart(model, x, team, must, min_difference, len(teams))
        model.clear_hints()
    if not teams:
        if status == cp_model.INFEASIBLE:
            also = ", conflicts of interest included" if pool.conflicts else ""
            raise InfeasibleConsortium("rules", f"no team meets every rule together{also} (proved by the "
                                                "exact solver)")
        raise InfeasibleConsortium("time_limit", f"no team found within {time_limit_s:g} s; infeasibility "
                                                 "not proved: try the default solver (API `exact: false`, "
                                                 "CLI without `--exact`)")
    return teams


def _keep_apart(model: cp_model.CpModel, x: dict[int, cp_model.IntVar], team: Sequence[int], must: tuple[int, ...],
                d: int, k: int) -> None:
    """Every later team lacks at least `d` of this team's free members, or has `d` members it lacks."""
    chosen, fixed = set(team), set(must)
    inside = sum(x[i] for i in team if i not in fixed)
    free = sum(1 for i in team if i not in fixed)
    added = model.new_bool_var(f"apart{k}")  # 0: d of its members dropped; 1: d members added
    model.add(inside <= free - d + d * added)
    model.add(sum(x[i] for i in x if i not in chosen) >= d * added)


def _objective_terms(pool: Pool, model: cp_model.CpModel, x: dict[int, cp_model.IntVar],
                     must: tuple[int, ...]) -> cp_model.LinearExprT:
    """Scaled integer form of `matcher.assemble.consortium.objective`, up to a constant."""
    rows = list(x)
    cov = pool.cov[rows]
    base = pool.cov[list(must)].max(axis=0) if must else np.zeros(cov.shape[1])
    terms = []
    for a in range(cov.shape[1]):
        picks = []
        for k in np.flatnonzero(cov[:, a] > base[a]):
            coef = round(float(pool.w[a] * (cov[k, a] - base[a])) * _SCALE)
            if coef > 0:
                z = model.new_bool_var(f"z{a}_{rows[k]}")
                model.add_implication(z, x[rows[k]])
                picks.append(z)
                terms.append(coef * z)
        if len(picks) > 1:
            model.add_at_most_one(picks)
    bc = pool.bonus / pool.rules.max_size
    orig = set(pool.rules.must_include)
    for i in rows:
        if i not in orig and (coef := round(bc * float(pool.q[i]) * _SCALE)) > 0:
            terms.append(coef * x[i])
    return sum(terms)
