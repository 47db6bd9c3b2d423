"""Consortium assembly: rules always hold, exact bounds greedy, infeasibility names the rule."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.assemble.consortium import (
    TeamRules,
    assemble_exact,
    assemble_greedy,
    assemble_teams,
    check_team,
    objective,
    shortlist,
)
from matcher.domain.errors import InfeasibleConsortium

COUNTRIES = ("DE", "FR", "TR", "PL", "ES")
WIDENING = frozenset({"TR", "PL"})
RULE_NAMES = {"size", "must_include", "max_size", "conflicts", "max_per_country", "min_size",
              "min_countries", "group_min", "rules"}


@st.composite
def instances(draw, n_min=8, n_max=20):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n, n_aspects = draw(st.integers(n_min, n_max)), draw(st.integers(3, 8))
    coverage = (rng.random((n, n_aspects)) ** 2).astype(np.float32)
    weights = rng.dirichlet(np.ones(n_aspects))
    countries = [COUNTRIES[k] for k in rng.integers(0, draw(st.integers(2, 5)), n)]
    min_size = draw(st.integers(1, 4))
    rows = st.integers(0, n - 1)
    rules = TeamRules(
        min_size=min_size,
        max_size=draw(st.integers(min_size, 6)),
        min_countries=draw(st.integers(1, 4)),
        max_per_country=draw(st.none() | st.integers(1, 3)),
        group_min=draw(st.sampled_from([(), (("widening", WIDENING, 1),),
                                        (("widening", WIDENING, 2),)])),
        must_include=tuple(draw(st.lists(rows, max_size=2, unique=True))),
        excluded=frozenset(draw(st.lists(rows, max_size=2))),
    )
    pairs = st.tuples(rows, rows).filter(lambda p: p[0] != p[1])
    conflicts = frozenset(draw(st.lists(pairs, max_size=4)))
    return coverage, weights, countries, rules, conflicts


def _solve(inst, method, n_teams=3):
    """Teams at least one member apart: the exact solver then gives the k best, which bound the greedy's."""
    coverage, weights, countries, rules, conflicts = inst
    try:
        return assemble_teams(coverage, weights, countries, None, rules, conflicts,
                              n_teams=n_teams, method=method, min_difference=1)
    except InfeasibleConsortium as err:
        assert err.rule.split()[0] in RULE_NAMES
        assert str(err).startswith(err.rule) and err.reason
        return None


@settings(max_examples=200, deadline=None)
@given(instances())
def test_teams_keep_every_rule_and_exact_bounds_greedy(inst):
    coverage, weights, countries, rules, conflicts = inst
    greedy, exact = _solve(inst, "greedy"), _solve(inst, "exact")
    if exact is None:  # no team exists: the greedy cannot have found one
        assert greedy is None
        return
    if not conflicts:  # without conflicts the greedy's look-ahead is exact
        assert greedy is not None
    for teams in (greedy or [], exact):
        assert len({frozenset(t.members) for t in teams}) == len(teams)
        for t in teams:
            assert check_team(t.members, countries, rules, conflicts) == []
            assert t.members[:len(rules.must_include)] == rules.must_include
            assert t.score == pytest.approx(objective(coverage, weights, t.members, rules))
            assert t.gaps == tuple(np.flatnonzero(t.coverage < 0.35))
    exact_scores = [t.score for t in exact]
    assert exact_scores == sorted(exact_scores, reverse=True)  # k best, in order
    if greedy:
        assert len(greedy) <= len(exact)
        for e, g in zip(exact_scores, sorted((t.score for t in greedy), reverse=True), strict=False):
            assert e >= g - 1e-6


@settings(max_examples=60, deadline=None)
@given(instances(n_min=6, n_max=10))
def test_exact_matches_brute_force(inst):
    coverage, weights, countries, rules, conflicts = inst
    best = max((objective(coverage, weights, s, rules)
                for k in range(rules.min_size, rules.max_size + 1)
                for s in itertools.combinations(range(len(countries)), k)
                if not check_team(s, countries, rules, conflicts)), default=None)
    teams = _solve(inst, "exact", n_teams=1)
    if best is None:
        assert teams is None
    else:
        assert teams is not None and teams[0].score == pytest.approx(best, abs=1e-6)


@settings(max_examples=30, deadline=None)
@given(instances())
def test_same_input_same_output(inst):
    for method in ("greedy", "exact"):
        first, again = _solve(inst, method), _solve(inst, method)
        if first is None:
            assert again is None
            continue
        assert again is not None
        assert [(t.members, t.score, t.gaps) for t in first] == \
               [(t.members, t.score, t.gaps) for t in again]


def _trap():
    """Row 0 covers everything half-way; rows 1 and 2 together cover everything fully."""
    coverage = np.array([[0.7, 0.7, 0.7, 0.7],
                         [1.0, 1.0, 0.0, 0.0],
                         [0.0, 0.0, 1.0, 1.0],
                         [0.2, 0.1, 0.0, 0.3]], dtype=np.float32)
    return coverage, np.full(4, 0.25), ["DE", "FR", "TR", "PL"]


def test_known_optimum_greedy_trap_fixed_by_local_search():
    coverage, weights, countries = _trap()
    rules = TeamRules(min_size=2, max_size=2, min_countries=2)
    plain = assemble_greedy(coverage, weights, countries, rules, local_search=False)
    assert plain.members == (0, 1)  # the textbook greedy trap
    for team in (assemble_greedy(coverage, weights, countries, rules),
                 assemble_exact(coverage, weights, countries, rules)):
        assert set(team.members) == {1, 2}
        assert team.score == pytest.approx(1.0 + 0.05 * 1.0 / 2)
        assert team.gaps == ()
        np.testing.assert_allclose(team.coverage, 1.0)


def test_must_include_first_and_gaps_reported():
    coverage, weights, countries = _trap()
    rules = TeamRules(min_size=2, max_size=2, must_include=(3,))
    team = assemble_greedy(coverage, weights, countries, rules)
    assert team.members == (3, 0) and team.countries == ("PL", "DE")
    assert team.gaps == ()
    rules = TeamRules(min_size=1, max_size=1, must_include=(3,))
    assert assemble_greedy(coverage, weights, countries, rules).gaps == (0, 1, 2, 3)


def test_greedy_reserves_slots_for_lower_bound_rules():
    coverage = np.array([[0.9, 0.1, 0.0], [0.1, 0.9, 0.0], [0.0, 0.2, 0.9], [0.8, 0.8, 0.1],
                         [0.05, 0.0, 0.0], [0.0, 0.05, 0.0]], dtype=np.float32)
    countries = ["DE", "DE", "DE", "DE", "TR", "PL"]
    rules = TeamRules(min_size=3, max_size=4, min_countries=2,
                      group_min=(("widening", WIDENING, 2),))
    for method in ("greedy", "exact"):
        team = assemble_teams(coverage, np.full(3, 1 / 3), countries, None, rules,
                              n_teams=1, method=method)[0]
        assert {4, 5} <= set(team.members) and len(team.members) == 4
        assert check_team(team.members, countries, rules) == []


def _pool_of(countries):
    n = len(countries)
    return np.linspace(0.1, 0.9, n * 2, dtype=np.float32).reshape(n, 2), np.array([0.5, 0.5])


@pytest.mark.parametrize(("countries", "rules", "conflicts", "rule", "reason"), [
    (["DE", "FR", "TR", "DE"], TeamRules(2, 5, min_countries=4), (), "min_countries",
     "at least 4 countries required; eligible candidates come from only 3: DE, FR, TR"),
    (["DE", "DE", "FR"], TeamRules(2, 3, max_per_country=1, must_include=(0, 1)), (),
     "max_per_country", "2 must-include members from DE (c0, c1); at most 1 per country allowed"),
    (["DE", "FR", "TR", "DE"], TeamRules(2, 4, group_min=(("widening", WIDENING, 2),)), (),
     "group_min widening",
     "at least 2 members from widening required; only 1 eligible candidate from it: c2 (TR)"),
    (["DE", "FR", "TR"], TeamRules(1, 1, must_include=(0, 1)), (), "max_size",
     "2 must-include members but max_size is 1"),
    (["DE", "FR", "TR"], TeamRules(2, 3, must_include=(0, 1)), ((1, 0),), "conflicts",
     "must-include c0 conflicts with must-include c1"),
    (["DE", "FR", "TR"], TeamRules(2, 3, must_include=(2,), excluded=frozenset({2})), (),
     "must_include", "must-include c2 also excluded"),
    (["DE", "FR", "TR", "DE"], TeamRules(4, 5, max_per_country=1), (), "min_size",
     "at least 4 members required; eligible candidates allow only 3 with at most 1 per country"),
    (["DE", "FR", "TR", "PL"], TeamRules(3, 2), (), "size",
     "need 1 <= min_size <= max_size, got 3 and 2"),
    (["DE", "FR", "TR", "PL"],
     TeamRules(2, 3, must_include=(0, 1), group_min=(("widening", WIDENING, 2),)), (), "rules",
     "min_size, min_countries and the group minimums together need 2 members besides the 2 "
     "must-include ones, but max_size leaves 1"),
])
def test_infeasible_rules_are_named(countries, rules, conflicts, rule, reason):
    coverage, weights = _pool_of(countries)
    ids = [f"c{i}" for i in range(len(countries))]
    for method in ("greedy", "exact"):
        with pytest.raises(InfeasibleConsortium) as err:
            assemble_teams(coverage, weights, countries, ids, rules, frozenset(conflicts),
                           method=method)
        assert (err.value.rule, err.value.reason) == (rule, reason)
        assert str(err.value) == f"{rule}: {reason}"


def test_conflicts_only_infeasibility_found_by_both_solvers():
    coverage, weights = _pool_of(["DE", "FR", "TR"])
    rules = TeamRules(3, 3)
    for method in ("greedy", "exact"):
        with pytest.raises(InfeasibleConsortium, match="^rules: ") as err:
            assemble_teams(coverage, weights, ["DE", "FR", "TR"], None, rules,
                           frozenset({(0, 1)}), method=method)
        assert err.value.rule == "rules"


def test_check_team_lists_each_broken_rule():
    countries = ["DE", "DE", "FR", "TR"]
    rules = TeamRules(min_size=3, max_size=4, min_countries=3, max_per_country=1,
                      group_min=(("widening", WIDENING, 1),), must_include=(2,),
                      excluded=frozenset({1}))
    broken = check_team([0, 1], countries, rules, frozenset({(1, 0)}))
    assert [b.split(":")[0] for b in broken] == [
        "size", "must_include", "excluded", "conflicts", "max_per_country", "min_countries",
        "group_min widening"]
    assert check_team([0, 2, 3], countries, rules) == []


def test_shortlist_keeps_aspect_country_and_must_rows():
    rng = np.random.default_rng(0)
    coverage = rng.random((1000, 5)).astype(np.float32)
    weights = np.full(5, 0.2)
    countries = np.array(["DE"] * 995 + ["MT"] * 5)
    rows = shortlist(coverage, weights, per_aspect=3, total=10, countries=countries,
                     per_country=2, keep=[7])
    assert np.all(np.diff(rows) > 0)
    q = coverage @ weights
    expected = set(np.argsort(-q)[:10]) | {7} | set(np.argsort(-coverage, axis=0)[:3].ravel())
    expected |= set(np.argsort(-q[:995])[:2]) | set(995 + np.argsort(-q[995:])[:2])
    assert set(rows.tolist()) == expected


def test_shortlisted_large_pool_keeps_rules_satisfiable():
    """Widening candidates are weak here: a coverage-only shortlist would drop them all."""
    rng = np.random.default_rng(3)
    n = 5000
    countries = np.array(["DE", "FR", "ES", "IT"])[rng.integers(0, 4, n)]
    countries[-40:] = np.array(["TR", "PL"])[rng.integers(0, 2, 40)]
    coverage = rng.random((n, 6)).astype(np.float32)
    coverage[-40:] *= 0.2
    weights = np.full(6, 1 / 6)
    rules = TeamRules(min_size=4, max_size=6, min_countries=4, max_per_country=2,
                      group_min=(("widening", WIDENING, 2),))
    rows = shortlist(coverage, weights, per_aspect=10, total=50, countries=countries,
                     per_country=rules.max_size)
    assert len(rows) < 200
    teams = assemble_teams(coverage[rows], weights, countries[rows].tolist(), None, rules)
    assert len(teams) == 3
    for team in teams:
        members = rows[list(team.members)]
        assert check_team(members.tolist(), countries.tolist(), rules) == []
