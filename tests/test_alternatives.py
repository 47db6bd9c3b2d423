"""Consortium alternatives are real alternatives: teams differ by at least `min_difference` members,
and equal scores are ordered by ids, whatever order the rows come in."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.assemble.calls import CallRequest
from matcher.assemble.consortium import TeamRules, assemble_teams, check_team, difference
from matcher.domain.errors import InfeasibleConsortium, InvalidQuery
from matcher.service.engine import Engine

from .test_calls import CALL, team_ok
from .test_consortium import instances


def _teams(inst, method, d, n_teams=4):
    coverage, weights, countries, rules, conflicts = inst
    try:
        return assemble_teams(coverage, weights, countries, None, rules, conflicts, n_teams=n_teams,
                              method=method, min_difference=d)
    except InfeasibleConsortium:
        return None


@settings(max_examples=120, deadline=None)
@given(instances(), st.integers(1, 3))
def test_every_pair_of_teams_differs_by_min_difference(inst, d):
    coverage, weights, countries, rules, conflicts = inst
    for method in ("greedy", "exact"):
        teams = _teams(inst, method, d)
        if teams is None:
            continue
        for a, b in itertools.combinations(teams, 2):
            assert difference(a.members, b.members) >= d, (method, a.members, b.members)
        for t in teams:
            assert check_team(t.members, countries, rules, conflicts) == []
        scores = [t.score for t in teams]
        assert scores == sorted(scores, reverse=True)


@settings(max_examples=60, deadline=None)
@given(instances(n_min=6, n_max=9), st.integers(2, 3))
def test_exact_second_team_is_the_best_far_enough_from_the_first(inst, d):
    coverage, weights, countries, rules, conflicts = inst
    teams = _teams(inst, "exact", d, n_teams=2)
    if not teams:
        return
    first = teams[0].members
    from matcher.assemble.problem import objective

    far = [objective(coverage, weights, s, rules)
           for k in range(rules.min_size, rules.max_size + 1)
           for s in itertools.combinations(range(len(countries)), k)
           if not check_team(s, countries, rules, conflicts) and difference(s, first) >= d]
    if not far:
        assert len(teams) == 1
    else:
        assert len(teams) == 2 and teams[1].score == pytest.approx(max(far), abs=1e-6)


def test_equal_scores_go_to_the_lower_ids_in_any_row_order():
    # four interchangeable candidates: every team of two scores the same
    coverage = np.tile(np.array([[0.6, 0.4]], dtype=np.float32), (4, 1))
    weights = np.array([0.5, 0.5])
    rules = TeamRules(min_size=2, max_size=2)
    ids = ["d", "b", "a", "c"]
    for method in ("greedy", "exact"):
        teams = assemble_teams(coverage, weights, ["DE", "FR", "TR", "PL"], ids, rules, n_teams=2,
                               method=method, min_difference=2)
        named = [sorted(ids[m] for m in t.members) for t in teams]
        assert named[0][0] == "a" and len({t.score for t in teams}) == 1
        assert named == sorted(named)  # equal scores: by ids
        assert not set(named[0]) & set(named[1])


def test_min_difference_is_checked():
    coverage = np.eye(3, dtype=np.float32)
    with pytest.raises(InvalidQuery):
        assemble_teams(coverage, np.full(3, 1 / 3), ["DE", "FR", "TR"], None, TeamRules(1, 2), min_difference=0)


def test_engine_alternatives_differ_by_two_by_default(fake_engine: Engine):
    request = CallRequest(call_text=CALL, min_size=4, max_size=4, min_countries=3, max_per_country=1,
                          must_include=("p000",), exclude_conflicts=False)
    assert request.min_difference == 2
    result = fake_engine.assemble(request)
    assert len(result.teams) == 3
    sets = [{m.id for m in t.members} for t in result.teams]
    assert all(difference(sorted(a), sorted(b)) >= 2 for a, b in itertools.combinations(sets, 2))
    assert all(team_ok(fake_engine, t, request) == [] for t in result.teams)
    wide = fake_engine.assemble(CallRequest(**{**request.__dict__, "min_difference": 3, "teams": 10}))
    sets = [{m.id for m in t.members} for t in wide.teams]
    assert all(len(a - b) >= 3 for a, b in itertools.combinations(sets, 2))
    if len(wide.teams) < 10:
        assert wide.notes == (f"only {len(wide.teams)} teams satisfy the rules and differ from each other by at "
                              "least 3 members",)


@pytest.mark.integration
def test_readme_call_gives_alternatives_two_members_apart(demo_engine: Engine):
    """The README's call on the demo pool used to give three teams one swap apart (0.7635, 0.7634,
    0.7632 / 0.7633)."""
    request = CallRequest(
        call_text="Climate adaptation of agriculture. Develop drought-tolerant crop varieties and irrigation "
                  "strategies. Model crop yields under future climate scenarios.",
        min_size=5, max_size=5, min_countries=4, max_per_country=1, group_min=("widening:1",),
        must_include=("tr-0001",),
    )
    for exact in (False, True):
        result = demo_engine.assemble(CallRequest(**{**request.__dict__, "exact": exact}))
        sets = [{m.id for m in t.members} for t in result.teams]
        assert len(sets) == 3
        assert all(len(a - b) >= 2 for a, b in itertools.combinations(sets, 2)), exact
