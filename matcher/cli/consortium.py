"""`matcher consortium`: teams for a funding call under its rules."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Annotated, Optional

import typer

from matcher.assemble.calls import CallRequest, ConsortiumResult, team_size
from matcher.cli.common import HomeOption, fail, services
from matcher.domain.errors import MatcherError
from matcher.service.engine import MAX_TEAM

__all__ = ["consortium"]


def _aspect(spec: str) -> tuple[str, float]:
    text, sep, weight = spec.rpartition("=")
    if not sep or not text.strip():
        return spec.strip(), 1.0
    try:
        value = float(weight)
    except ValueError:  # an '=' inside the aspect's text
        return spec.strip(), 1.0
    if not (math.isfinite(value) and value >= 0):
        fail(f"--aspect '{text.strip()}': the weight must be a finite number >= 0", code=2)
    return text.strip(), value


def consortium(
    call: Annotated[
        Optional[Path], typer.Option("--call", exists=True, dir_okay=False, help="A file with the call text.")
    ] = None,
    call_text: Annotated[Optional[str], typer.Option("--call-text", help="The call text itself.")] = None,
    aspect: Annotated[
        Optional[list[str]],
        typer.Option("--aspect", help="An aspect instead of the call text, optionally weighted: 'soil carbon=2'."),
    ] = None,
    size: Annotated[
        Optional[int],
        typer.Option("--size", min=1, max=MAX_TEAM, help="Team size (sets both --min-size and --max-size)."),
    ] = None,
    min_size: Annotated[Optional[int], typer.Option("--min-size", min=1, max=MAX_TEAM, help="Smallest team.")] = None,
    max_size: Annotated[Optional[int], typer.Option("--max-size", min=1, max=MAX_TEAM, help="Largest team.")] = None,
    min_countries: Annotated[
        int, typer.Option("--min-countries", min=1, max=MAX_TEAM, help="At least this many countries.")
    ] = 1,
    max_per_country: Annotated[
        Optional[int],
        typer.Option("--max-per-country", min=1, max=MAX_TEAM, help="At most this many members per country."),
    ] = None,
    group_min: Annotated[
        Optional[list[str]],
        typer.Option("--group-min", help="At least N members from a group or country list: widening:1, 'DE,FR:2'."),
    ] = None,
    must_include: Annotated[
        Optional[list[str]], typer.Option("--must-include", help="Profile id in every team (repeatable).")
    ] = None,
    exclude: Annotated[Optional[list[str]], typer.Option("--exclude", help="Profile id never to include.")] = None,
    pool_countries: Annotated[
        Optional[list[str]], typer.Option("--pool-countries", help="Draw candidates only from these countries/groups.")
    ] = None,
    allow_conflicts: Annotated[
        bool, typer.Option("--allow-conflicts", help="Allow co-authors and colleagues in one team.")
    ] = False,
    teams: Annotated[int, typer.Option("--teams", min=1, max=10, help="How many distinct teams.")] = 3,
    min_difference: Annotated[
        int, typer.Option("--min-difference", min=1, max=30,
                          help="Alternative teams differ by at least this many members (1: any difference).")
    ] = 2,
    exact: Annotated[
        bool, typer.Option("--exact", help="Solve exactly (OR-Tools CP-SAT) on a small shortlist.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")] = False,
    home: HomeOption = None,
) -> None:
    """Propose teams that cover a funding call under its rules, with each team's gaps.

    The call is split into aspects (its sentences); coverage of an aspect by a team is its best
    member's best work. Rules are hard constraints; co-authors and colleagues are kept apart
    unless --allow-conflicts. The --teams alternatives differ from each other by at least
    --min-difference members (default 2), so they are real alternatives, not one swap apart.

    Example:

      matcher consortium --call-text "Climate adaptation of agriculture. Drought-tolerant crops." \\
          --size 5 --min-countries 4 --max-per-country 1 --group-min widening:1 --must-include tr-0001
    """
    try:
        text = call.read_text(encoding="utf-8") if call is not None else call_text
        for given in (text or "", *(aspect or ())):
            given.encode("utf-8")
    except UnicodeError:
        fail("the call text and aspects must be UTF-8 text", code=2)
    if not text and not aspect:
        fail("give --call FILE, --call-text TEXT or --aspect (see --help)", code=2)
    if size is not None and any(bound not in (None, size) for bound in (min_size, max_size)):
        fail(f"--size {size} contradicts --min-size/--max-size; give --size alone, or the bounds", code=2)
    lo, hi = team_size(size, min_size, max_size)
    if lo > hi:
        fail(f"--min-size {lo} is larger than --max-size {hi}", code=2)
    request = CallRequest(
        call_text=text, aspects=tuple(_aspect(a) for a in aspect or ()), min_size=lo, max_size=hi,
        min_countries=min_countries, max_per_country=max_per_country, group_min=tuple(group_min or ()),
        must_include=tuple(must_include or ()), exclude=tuple(exclude or ()),
        pool_countries=tuple(pool_countries or ()), exclude_conflicts=not allow_conflicts, teams=teams, exact=exact,
        min_difference=min_difference,
    )
    try:
        result = services(home).engine.assemble(request)
    except MatcherError as err:
        fail(err)
    if as_json:
        typer.echo(json.dumps(dataclasses.asdict(result), ensure_ascii=False, indent=2))
    else:
        _print(result)


def _print(result: ConsortiumResult) -> None:
    typer.echo("Aspects:")
    for k, a in enumerate(result.aspects, start=1):
        typer.echo(f"  A{k} ({a.weight:.2f}) {a.text}")
    for n, team in enumerate(result.teams, start=1):
        typer.echo(f"\nTeam {n}: score {team.score:.3f}, countries {', '.join(team.countries)}")
        for m in team.members:
            typer.echo(f"  - {m.name} ({m.country}) [{m.id}]: {m.explanation}")
        cells = ", ".join(f"A{k}={c['coverage']:.2f}" for k, c in enumerate(team.coverage, start=1))
        typer.echo(f"  coverage: {cells}")
        typer.echo(f"  gaps: {'; '.join(team.gaps) if team.gaps else 'none'}")
    for note in result.notes:
        typer.echo(f"note: {note}", err=True)
