"""Consortia for a call through the engine: rules hold on every team, infeasible rules are named."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matcher.assemble.calls import CallRequest, parse_group_min, split_aspects
from matcher.domain.countries import GROUPS
from matcher.domain.errors import InfeasibleConsortium, InvalidQuery, ProfileNotFound
from matcher.service.engine import Engine

CALL = (
    "Groundwater aquifer contaminant transport in karst. Drought tolerant crop irrigation and soil adaptation. "
    "Neural network learning and embedding training for surveillance."
)


def team_ok(engine: Engine, team, request: CallRequest) -> list[str]:
    """The rules a returned team breaks, checked from the store (not from the solver's own view)."""
    profiles = [engine.store.get(m.id) for m in team.members]
    countries = [p.country for p in profiles]
    bad = []
    if not request.min_size <= len(profiles) <= request.max_size:
        bad.append("size")
    if len(set(countries)) < request.min_countries:
        bad.append("min_countries")
    if request.max_per_country and max(countries.count(c) for c in countries) > request.max_per_country:
        bad.append("max_per_country")
    for spec in request.group_min:
        name, least = parse_group_min(spec)
        if sum(c in GROUPS[name].members for c in countries) < least:
            bad.append(f"group_min {name}")
    if not set(request.must_include) <= {p.id for p in profiles}:
        bad.append("must_include")
    if set(request.exclude) & {p.id for p in profiles}:
        bad.append("exclude")
    ids = {p.id for p in profiles}
    if request.exclude_conflicts:
        if any(p.coauthors & (ids - {p.id}) for p in profiles):
            bad.append("coauthors")
        institutions = [p.institution for p in profiles if p.institution]
        if len(institutions) != len(set(institutions)):
            bad.append("same institution")
    return bad


def test_three_distinct_teams_with_coverage_and_gaps(fake_engine):
    request = CallRequest(call_text=CALL, min_size=4, max_size=4, min_countries=3, max_per_country=1,
                          must_include=("p000",), exclude_conflicts=False)
    result = fake_engine.assemble(request)
    assert [a.text for a in result.aspects] == split_aspects(CALL)
    assert len(result.teams) == 3
    assert len({frozenset(m.id for m in t.members) for t in result.teams}) == 3
    for team in result.teams:
        assert team_ok(fake_engine, team, request) == []
        assert team.members[0].id == "p000"
        assert len(team.coverage) == 3 and all(0 <= c["coverage"] <= 1 for c in team.coverage)
        assert all(m.explanation for m in team.members)
    assert fake_engine.assemble(request) == result  # same input, same output


def test_exact_is_never_below_greedy(fake_engine):
    request = CallRequest(call_text=CALL, min_size=3, max_size=3, min_countries=3, teams=1, exclude_conflicts=False)
    greedy = fake_engine.assemble(request).teams[0].score
    exact = fake_engine.assemble(CallRequest(**{**request.__dict__, "exact": True})).teams[0].score
    assert exact >= greedy - 1e-6


def test_infeasible_rules_are_named(fake_engine):
    with pytest.raises(InfeasibleConsortium, match="min_countries") as err:
        fake_engine.assemble(CallRequest(call_text=CALL, min_size=5, max_size=5, min_countries=4,
                                         pool_countries=("DE", "FR", "TR")))
    assert "DE, FR, TR" in str(err.value)
    with pytest.raises(InfeasibleConsortium, match="must_include"):
        fake_engine.assemble(CallRequest(call_text=CALL, must_include=("p001",), exclude=("p001",)))
    with pytest.raises(InfeasibleConsortium, match="group_min"):
        fake_engine.assemble(CallRequest(call_text=CALL, group_min=("african-union:1",),
                                         pool_countries=("DE", "FR", "TR")))
    with pytest.raises(InfeasibleConsortium, match="pool has 0 eligible"):
        fake_engine.assemble(CallRequest(call_text=CALL, pool_countries=("ZW",)))
    with pytest.raises(ProfileNotFound):
        fake_engine.assemble(CallRequest(call_text=CALL, must_include=("nobody",)))
    with pytest.raises(InvalidQuery):
        fake_engine.assemble(CallRequest(call_text=CALL, group_min=("widening",)))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    size=st.integers(2, 6),
    min_countries=st.integers(1, 6),
    max_per_country=st.none() | st.integers(1, 3),
    widening=st.integers(0, 3),
    must=st.lists(st.sampled_from([f"p{i:03d}" for i in range(48)]), max_size=2, unique=True),
    conflicts=st.booleans(),
)
def test_every_returned_team_satisfies_every_rule(fake_engine, size, min_countries, max_per_country, widening,
                                                  must, conflicts):
    request = CallRequest(
        call_text=CALL, min_size=size, max_size=size, min_countries=min_countries, max_per_country=max_per_country,
        group_min=(f"widening:{widening}",) if widening else (), must_include=tuple(must),
        exclude_conflicts=conflicts,
    )
    try:
        result = fake_engine.assemble(request)
    except InfeasibleConsortium as err:
        assert err.rule and err.reason
        return
    assert result.teams
    for team in result.teams:
        assert team_ok(fake_engine, team, request) == []
