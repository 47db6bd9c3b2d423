"""A call that cannot be met says why: the rule, the conflicting pairs and their reason, and the
real field or flag to change (API `exact` / `exclude_conflicts`, CLI `--exact` / `--allow-conflicts`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from matcher.assemble.calls import CallRequest
from matcher.assemble.consortium import TeamRules, assemble_teams
from matcher.domain.errors import InfeasibleConsortium, InvalidQuery
from matcher.domain.profiles import parse_profile
from matcher.service.bootstrap import Services
from matcher.service.engine import Engine

from .conftest import fake_services_at

CALL = "Groundwater aquifer recharge and karst contaminant transport. Drought and irrigation of crops."
ALLOW = "API `exclude_conflicts: false`, CLI `--allow-conflicts`"
EXACT = "API `exact: true`, CLI `--exact`"


def _person(pid: str, country: str, institution: str, title: str, coauthors: tuple[str, ...] = ()) -> dict:
    return {"id": pid, "name": pid.upper(), "country": country, "institution": institution,
            "works": [{"title": title, "abstract": title, "coauthors": list(coauthors)}]}


@pytest.fixture()
def bishkek(tmp_path: Path) -> Iterator[Services]:
    """Three Kyrgyz candidates at one university (any two conflict) and eight elsewhere."""
    people = [
        _person("kg-1", "KG", "University of Bishkek", "karst aquifer recharge in the Tien Shan"),
        _person("kg-2", "KG", "University of Bishkek", "groundwater contaminant transport"),
        _person("kg-3", "KG", "University of Bishkek", "drought and irrigation of crops"),
        *(_person(f"{c.lower()}-{i}", c, f"Institute {c}{i}", f"aquifer and crop irrigation study {i}")
          for i, c in enumerate(["DE", "FR", "TR", "PL", "PT", "GR", "ES", "IT"])),
    ]
    services = fake_services_at(tmp_path / "store")
    services.engine.add([parse_profile(p) for p in people])
    yield services
    services.close()


@pytest.mark.parametrize("exact", [False, True])
def test_conflicts_that_make_a_group_minimum_impossible_are_named(bishkek: Services, exact: bool):
    engine: Engine = bishkek.engine
    request = CallRequest(call_text=CALL, min_size=4, max_size=4, group_min=("KG:2",), exact=exact)
    with pytest.raises(InfeasibleConsortium) as err:
        engine.assemble(request)
    message = str(err.value)
    assert err.value.rule == "conflicts"
    assert "group_min KG needs 2 members from KG, but its 3 eligible candidates conflict with each other so " \
           "that at most 1 can join one team" in message
    assert "kg-1 and kg-2 (both at University of Bishkek)" in message
    assert ALLOW in message and "method=" not in message
    allowed = engine.assemble(CallRequest(**{**request.__dict__, "exclude_conflicts": False}))
    assert sum(m.country == "KG" for m in allowed.teams[0].members) >= 2


def test_coauthors_are_named_as_such(tmp_path: Path):
    people = [
        _person("kg-1", "KG", "A", "karst aquifer recharge", coauthors=("kg-2",)),
        _person("kg-2", "KG", "B", "groundwater contaminant transport"),
        *(_person(f"de-{i}", "DE", f"Institute {i}", f"crop irrigation study {i}") for i in range(4)),
    ]
    services = fake_services_at(tmp_path / "store")
    try:
        services.engine.add([parse_profile(p) for p in people])
        with pytest.raises(InfeasibleConsortium, match=r"kg-1 and kg-2 \(co-authors\)"):
            services.engine.assemble(CallRequest(call_text=CALL, min_size=3, max_size=3, group_min=("KG:2",)))
    finally:
        services.close()


def test_a_greedy_miss_points_to_the_exact_solver_and_the_exact_one_proves_it():
    # six candidates in a ring of conflicts, each row in conflict with the next: at most three apart
    coverage = np.full((6, 2), 0.5, dtype=np.float32)
    countries = ["DE", "FR", "TR", "PL", "PT", "GR"]
    ring = frozenset((i, (i + 1) % 6) if i < 5 else (0, 5) for i in range(6))
    rules = TeamRules(min_size=4, max_size=4)
    with pytest.raises(InfeasibleConsortium) as greedy:
        assemble_teams(coverage, np.array([0.5, 0.5]), countries, None, rules, ring, method="greedy")
    assert EXACT in str(greedy.value) and "method=" not in str(greedy.value)
    with pytest.raises(InfeasibleConsortium, match="proved by the exact solver") as exact:
        assemble_teams(coverage, np.array([0.5, 0.5]), countries, None, rules, ring, method="exact")
    assert "conflicts of interest included" in str(exact.value)


def test_the_exact_solver_refers_to_the_default_one_by_its_real_names():
    from matcher.assemble.exact import solve_exact
    from matcher.assemble.problem import make_pool

    n = 5
    pool = make_pool(np.full((n, 1), 0.5), np.array([1.0]), ["DE"] * n, None, TeamRules(1, 2), frozenset(), 0.05)
    with pytest.raises(InvalidQuery, match=r"default solver \(API `exact: false`, CLI without `--exact`\)"):
        solve_exact(pool, (), frozenset(), max_rows=3)


@pytest.mark.integration
def test_demo_group_of_colleagues_reports_the_cause_and_exact_keeps_enough_of_the_group(demo_engine: Engine):
    """The demo pool's nine Kyrgyz researchers are all at the University of Bishkek. Asking for three
    of them used to give "try method='exact'" (default solver) and "only 1 eligible candidate from
    kg" (exact: its shortlist kept one per country), though allowing conflicts gives a team."""
    request = CallRequest(call_text=CALL, min_size=5, max_size=5, min_countries=3, group_min=("kg:3",))
    for exact in (False, True):
        with pytest.raises(InfeasibleConsortium) as err:
            demo_engine.assemble(CallRequest(**{**request.__dict__, "exact": exact}))
        message = str(err.value)
        assert "its 9 eligible candidates conflict with each other so that at most 1 can join" in message
        assert "(both at University of Bishkek)" in message and ALLOW in message
        allowed = demo_engine.assemble(CallRequest(**{**request.__dict__, "exact": exact, "exclude_conflicts": False}))
        assert sum(m.country == "KG" for m in allowed.teams[0].members) >= 3
