"""Teams as the consortium page shows and exports them: members, countries, and a coverage grid
(aspects x members) in words, gaps marked; and the CSV and XLSX files of the same."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from api.web import words
from api.web.sheets import csv_bytes, xlsx_bytes
from matcher.assemble.calls import ConsortiumResult, coverage_matrix
from matcher.index.corpus import Corpus

__all__ = ["TeamView", "Teams", "member_grid", "teams_csv", "teams_xlsx", "views"]


@dataclass(frozen=True)
class Row:
    aspect: str
    importance: str  # "" when every aspect weighs the same
    team: tuple[str, str]  # (style, words) of the team's coverage
    cells: tuple[tuple[str, str], ...]  # (style, words) per member


@dataclass(frozen=True)
class TeamView:
    number: int
    members: tuple[dict[str, str], ...]  # id, name, country, institution, role
    countries: tuple[str, ...]
    covered: int
    rows: tuple[Row, ...]
    gaps: tuple[str, ...]


@dataclass(frozen=True)
class Teams:
    """A consortium answer and the grid of each team (members x aspects), as kept for downloads."""

    result: ConsortiumResult
    grids: tuple[np.ndarray, ...]
    gap_threshold: float


def member_grid(corpus: Corpus, result: ConsortiumResult, vectors: np.ndarray) -> tuple[np.ndarray, ...]:
    """Each team's coverage of each aspect by each member (members x aspects): the best
    similarity of the member's works to the aspect, as the solver scored it."""
    grids = []
    for team in result.teams:
        rows = np.asarray([corpus.row_of[m.id] for m in team.members], dtype=np.int64)
        grids.append(coverage_matrix(corpus, rows, vectors))
    return tuple(grids)


def _importance(weight: float, n: int, equal: bool) -> str:
    if equal:
        return ""
    share = weight * n
    return "essential" if share >= 2.5 else "important" if share >= 1.5 else "less important" if share < 0.75 else ""


def views(teams: Teams, must_include: Sequence[str] = ()) -> list[TeamView]:
    result, threshold = teams.result, teams.gap_threshold
    n = len(result.aspects)
    equal = len({round(a.weight, 6) for a in result.aspects}) <= 1
    out = []
    for number, (team, grid) in enumerate(zip(result.teams, teams.grids, strict=True), 1):
        coverage = {str(c["aspect"]): float(c["coverage"]) for c in team.coverage}  # type: ignore[arg-type]
        rows = tuple(
            Row(a.text, _importance(a.weight, n, equal), words.coverage_level(coverage[a.text], threshold),
                tuple(words.member_level(float(grid[m, k]), threshold) for m in range(len(team.members))))
            for k, a in enumerate(result.aspects)
        )
        members = tuple({"id": m.id, "name": m.name, "country": m.country, "institution": m.institution,
                         "role": "must be in the team" if m.id in must_include else ""} for m in team.members)
        out.append(TeamView(number, members, team.countries, n - len(team.gaps), rows, team.gaps))
    return out


MEMBER_COLUMNS = ("team", "covers", "name", "country", "institution", "profile_id", "best in the team on",
                  "team gaps")
COVERAGE_COLUMNS = ("team", "aspect", "share of the call", "team coverage", "coverage (0-1)", "best covered by")


def _member_rows(teams: Teams) -> list[list[object]]:
    rows: list[list[object]] = []
    for number, team in enumerate(teams.result.teams, 1):
        covers = f"{len(teams.result.aspects) - len(team.gaps)} of {len(teams.result.aspects)} aspects"
        for m in team.members:
            best = "; ".join(str(c["aspect"]) for c in m.covers)
            rows.append([number, covers, m.name, words.country(m.country), m.institution, m.id, best,
                         "; ".join(team.gaps)])
    return rows


def _coverage_rows(teams: Teams) -> list[list[object]]:
    rows: list[list[object]] = []
    weights = {a.text: a.weight for a in teams.result.aspects}
    for number, team in enumerate(teams.result.teams, 1):
        for c in team.coverage:
            value = float(c["coverage"])  # type: ignore[arg-type]
            rows.append([number, c["aspect"], f"{weights[str(c['aspect'])]:.0%}",
                         words.coverage_level(value, teams.gap_threshold)[1], round(value, 3), c["covered_by"]])
    return rows


def teams_csv(teams: Teams) -> bytes:
    return csv_bytes(MEMBER_COLUMNS, _member_rows(teams))


def teams_xlsx(teams: Teams) -> bytes:
    return xlsx_bytes([("Teams", MEMBER_COLUMNS, _member_rows(teams)),
                       ("Coverage", COVERAGE_COLUMNS, _coverage_rows(teams))])
