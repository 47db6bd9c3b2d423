"""CORDIS ``project.csv`` + ``organization.csv`` (the European Commission's official export pair)
-> organisation profiles with their projects as works.

Input: the folder holding both files, or either file (its sibling is found next to it). The files
come ``,``- or ``;``-separated (both are published), UTF-8 with or without a byte-order mark, or
Windows-1252; see `matcher.ingest.delimited`. Columns used, by their published names:

- ``project.csv``: ``id`` (or ``projectID``), ``title``, ``objective``, ``startDate``.
- ``organization.csv``: ``projectID``, ``organisationID`` (or ``organizationID``, ``id``),
  ``name``, ``country``, and when present ``activityType`` (HES, REC, PRC, PUB, OTH: the
  profile's ``role``) and ``SME`` (``sme``).

Each organisation (by ``organisationID``, else by name) becomes a profile of kind
``organisation``: id ``cordis-org-<organisationID>``, name and institution its ``name``, country
its ``country`` (CORDIS writes EL and UK; both are normalised). Its works are its projects:
``cordis-<projectID>``, the title, the objective as abstract, the year of ``startDate``; each
work's ``coauthors`` are the profile ids of the other organisations in that project, which keeps
earlier collaborations visible. An organisation in more projects than a profile holds keeps the
most recent ones, with a note. Locations are the line a row starts on (the header is line 1).
Rejected: rows of either file that cannot be read (over the bounds of `ReadLimits`), organisation
rows whose project is not in ``project.csv`` or has no title, rows with neither id nor name, and
organisations without a valid country.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from matcher.domain.errors import InvalidProfile, MatcherError
from matcher.domain.profiles import MAX_TEXT, MAX_WORKS, ROLES, Profile, Work
from matcher.ingest.bounds import DEFAULT_LIMITS, ReadLimits
from matcher.ingest.build import MAX_TITLE, clip, make_profile, make_work, most_recent
from matcher.ingest.delimited import csv_rows
from matcher.ingest.files import Location
from matcher.ingest.readers import ReadResult, Rejection

__all__ = ["ORG_PREFIX", "PREFIX", "cordis_cell", "cordis_files", "cordis_table", "is_cordis_header", "read_cordis"]

PREFIX = "cordis-"
ORG_PREFIX = "cordis-org-"
PROJECT_NAMES = ("project.csv", "projects.csv")
ORG_NAMES = ("organization.csv", "organisation.csv", "organizations.csv", "organisations.csv")
_YEAR = re.compile(r"\b(1[89]\d\d|2\d\d\d)\b")


def cordis_files(path: Path) -> tuple[Path, Path]:
    """(project.csv, organization.csv) for a CORDIS folder or either of its two files."""
    folder = path if path.is_dir() else path.parent
    project = path if path.is_file() and path.name.lower() in PROJECT_NAMES else None
    orgs = path if path.is_file() and path.name.lower() in ORG_NAMES else None
    if path.is_file() and not (project or orgs):
        project = path if "project" in path.name.lower() else None
        orgs = path if project is None else None
    entries = {p.name.lower(): p for p in folder.iterdir()} if folder.is_dir() else {}
    project = project or next((entries[n] for n in PROJECT_NAMES if n in entries), None)
    orgs = orgs or next((entries[n] for n in ORG_NAMES if n in entries), None)
    if project is None or orgs is None:
        missing = "project.csv" if project is None else "organization.csv"
        raise MatcherError(f"{path}: no {missing} found in {folder}; CORDIS needs project.csv and organization.csv")
    return project, orgs


def is_cordis_header(cells: list[str]) -> bool:
    """Whether a CSV header is that of a CORDIS project.csv or organization.csv."""
    names = {c.strip().lstrip("\ufeff") for c in cells}
    project = {"acronym", "objective", "title"} <= names and bool(names & {"id", "projectID"})
    orgs = {"projectID", "name"} <= names and bool(names & {"organisationID", "organizationID", "activityType", "role"})
    return project or orgs


def cordis_table(
    path: Path, wanted: dict[str, tuple[str, ...]], required: tuple[str, ...], limits: ReadLimits,
    rejected: list[Rejection],
) -> tuple[dict[str, int], Iterator[tuple[int, list[str]]]]:
    """Column positions by our names (the first published alias present), and (line, cells) rows;
    a row that cannot be read (too long, ...) goes to `rejected`."""
    rows = csv_rows(path, limits)
    _, line, header = next(rows, (0, 0, []))
    if isinstance(header, str):
        raise MatcherError(f"{path}: line {line}, the header: {header}")
    names = [h.strip() for h in header]
    columns: dict[str, int] = {}
    for key, aliases in wanted.items():
        found = next((names.index(a) for a in aliases if a in names), None)
        if found is None and key in required:
            raise MatcherError(f"{path}: no '{aliases[0]}' column; the header is: {', '.join(names)}")
        if found is not None:
            columns[key] = found

    def readable() -> Iterator[tuple[int, list[str]]]:
        for _, start, cells in rows:
            if isinstance(cells, str):
                rejected.append(Rejection(start, cells, source=path.name))
            else:
                yield start, cells

    return columns, readable()


def cordis_cell(cells: list[str], columns: dict[str, int], key: str) -> str:
    i = columns.get(key)
    return cells[i].strip() if i is not None and i < len(cells) else ""


def _slug(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", folded).strip("-")[:100] or "unnamed"


@dataclass
class _Org:
    id: str
    line: int
    name: str = ""
    country: str = ""
    role: str = ""
    sme: str = ""
    projects: dict[str, None] = field(default_factory=dict)


def _projects(
    path: Path, limits: ReadLimits, rejected: list[Rejection]
) -> dict[str, tuple[int, str, str, int | None]]:
    """Projects by id: (line, title, objective, start year); texts cut to what a work keeps."""
    columns, rows = cordis_table(path, {
        "id": ("id", "projectID"), "title": ("title",), "objective": ("objective",), "start": ("startDate",),
    }, required=("id", "title"), limits=limits, rejected=rejected)
    projects: dict[str, tuple[int, str, str, int | None]] = {}
    for line, cells in rows:
        pid = cordis_cell(cells, columns, "id")
        if pid and pid not in projects:
            year = _YEAR.search(cordis_cell(cells, columns, "start"))
            projects[pid] = (line, clip(cordis_cell(cells, columns, "title"), MAX_TITLE),
                             clip(cordis_cell(cells, columns, "objective"), MAX_TEXT), int(year[1]) if year else None)
    return projects


def read_cordis(path: Path, limits: ReadLimits = DEFAULT_LIMITS) -> ReadResult:
    """Organisation profiles from a CORDIS export pair (a folder, or either of its files)."""
    project_path, org_path = cordis_files(path)
    rejected: list[Rejection] = []
    projects = _projects(project_path, limits, rejected)
    columns, rows = cordis_table(org_path, {
        "project": ("projectID",), "id": ("organisationID", "organizationID", "id"),
        "name": ("name",), "country": ("country",), "role": ("activityType",), "sme": ("SME",),
    }, required=("project", "name", "country"), limits=limits, rejected=rejected)
    src = org_path.name
    orgs: dict[str, _Org] = {}
    members: dict[str, dict[str, None]] = {}
    for line, cells in rows:
        project, org_id, name = (cordis_cell(cells, columns, k) for k in ("project", "id", "name"))
        if not org_id and not name:
            rejected.append(Rejection(line, "no organisationID and no name", None, "organisationID", src))
            continue
        pid = ORG_PREFIX + (org_id or "name-" + _slug(name))
        if project not in projects:
            reason = f"project {project or '(empty)'} is not in {project_path.name}; row skipped"
            rejected.append(Rejection(line, reason, pid, "projectID", src))
            continue
        if not projects[project][1]:
            reason = f"project {project} has no title in {project_path.name} (line {projects[project][0]}); row skipped"
            rejected.append(Rejection(line, reason, pid, "projectID", src))
            continue
        org = orgs.setdefault(pid, _Org(pid, line))
        org.name = org.name or name
        org.country = org.country or cordis_cell(cells, columns, "country")
        org.role = org.role or cordis_cell(cells, columns, "role")
        org.sme = org.sme or cordis_cell(cells, columns, "sme")
        org.projects[project] = None
        members.setdefault(project, {})[pid] = None
    result = ReadResult([], rejected)
    for org in orgs.values():
        _add_profile(org, projects, members, src, result)
    unused = sum(1 for p in projects if p not in members)
    if unused:
        what = "projects have no usable organisation rows"
        result.notes.append(f"{project_path.name}: {unused} of {len(projects)} {what}")
    return result


def _add_profile(
    org: _Org, projects: dict[str, tuple[int, str, str, int | None]], members: dict[str, dict[str, None]],
    src: str, result: ReadResult,
) -> None:
    works: list[Work] = []
    for project in org.projects:
        _, title, objective, year = projects[project]
        work = make_work(PREFIX + project, title, objective, year, (p for p in members[project] if p != org.id))
        if work is not None:
            works.append(work)
    if len(works) > MAX_WORKS:
        result.notes.append(f"{org.id}: kept the {MAX_WORKS} most recent of {len(works)} projects")
        works = most_recent(works)
    if not org.country:
        result.rejected.append(Rejection(org.line, "no country in any of its rows", org.id, "country", src))
        return
    try:
        profile: Profile = make_profile(
            id=org.id, name=org.name, country=org.country, kind="organisation",
            institution=org.name, works=works, role=_role(org, src, result), sme=_sme(org, src, result),
        )
    except InvalidProfile as err:
        result.rejected.append(Rejection(org.line, err.reason, org.id, err.field, src))
        return
    location: Location = org.line
    result.profiles.append((location, profile))


def _role(org: _Org, src: str, result: ReadResult) -> str | None:
    """The organisation's activityType, or None with a note when the cell holds something else (the
    column is optional: an unknown code never costs the organisation its profile)."""
    role = org.role.strip().upper()
    if role and role not in ROLES:
        result.notes.append(f"{src}:{org.line} ({org.id}): activityType '{org.role}' is not one of "
                            f"{', '.join(ROLES)}; stored without a role")
        return None
    return role or None


def _sme(org: _Org, src: str, result: ReadResult) -> bool | None:
    value = org.sme.strip().lower()
    if value and value not in ("true", "false"):
        result.notes.append(f"{src}:{org.line} ({org.id}): SME '{org.sme}' is not true or false; stored without it")
        return None
    return None if not value else value == "true"
