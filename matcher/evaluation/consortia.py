"""Real EU consortia as ground truth: a temporal split of a CORDIS-style project table.

Organisation profiles are built from the projects that started before the cut (each with the role
its legal name suggests: the table has no activityType, see `matcher.evaluation.roles`); each project that
started on or after it (and before `until`) with two or more organisations is a query:
- *idea*: the project's title and objective as free text; targets: every member with a profile;
- *coordinator + idea*: the coordinator's profile and the text; targets: the other members.
"""

from __future__ import annotations

import csv
import re
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
from tqdm import tqdm

from matcher.domain.errors import MatcherError
from matcher.domain.profiles import ROLES, Profile, Work
from matcher.evaluation.metrics import ndcg_at, recall_at, reciprocal_rank
from matcher.evaluation.roles import guess_role
from matcher.index.corpus import Corpus
from matcher.ingest.bounds import DEFAULT_LIMITS
from matcher.ingest.cordis import cordis_cell, cordis_files, cordis_table, is_cordis_header
from matcher.ingest.delimited import header_cells
from matcher.ingest.readers import Rejection
from matcher.rank.matching import rank
from matcher.score.query import PreparedQuery
from matcher.score.rules import MatchRules
from matcher.score.scoring import ScoringConfig

__all__ = [
    "EvalQuery", "Project", "Source", "Split", "evaluate", "evaluate_fair", "read_export", "read_projects",
    "read_source", "temporal_split",
]

_REQUIRED = ("id", "title", "objective", "startDate", "coordinator", "coordinatorCountry", "participants")
NO_COUNTRY = "ZZ"  # organisations never seen as coordinator: their country is unknown


@dataclass(frozen=True)
class Project:
    id: str
    title: str
    objective: str
    start: date
    coordinator: str
    coordinator_country: str
    participants: tuple[str, ...]

    @property
    def members(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((self.coordinator, *self.participants)))

    @property
    def text(self) -> str:
        return Work(id=self.id, title=self.title, abstract=self.objective).text


@dataclass(frozen=True)
class EvalQuery:
    project: Project
    coordinator: str | None  # org id when the coordinator has a profile
    idea_targets: frozenset[str]
    coordinator_targets: frozenset[str]


@dataclass(frozen=True)
class Split:
    profiles: list[Profile]
    queries: list[EvalQuery]


def org_id(name: str) -> str:
    return "org-" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:120]


@dataclass(frozen=True)
class Source:
    """The projects of an evaluation, with each organisation's role when the data gives it."""

    projects: list[Project]
    roles: dict[str, str] | None = None  # organisation name -> activityType; None: guessed from names


def read_source(path: Path) -> Source:
    """A project table with one row per project (the cleantech extract's layout), or a CORDIS export
    pair (`project.csv` + `organization.csv`: a folder or either file), whose organisations come
    with their own activityType."""
    if path.is_dir():
        return read_export(path)
    try:
        header = {h.strip().lstrip("\ufeff") for h in header_cells(path)}
    except FileNotFoundError:
        raise MatcherError(f"{path}: no such file") from None
    if {"coordinator", "participants"} <= header or not is_cordis_header(list(header)):
        return Source(read_projects(path))  # which names the columns it misses
    return read_export(path)


def read_export(path: Path) -> Source:
    """Projects and roles from a CORDIS export pair: per project, the organisation whose `role` is
    coordinator (else the first by `order`, else the first row) and the others as participants."""
    project_path, org_path = cordis_files(path)
    skipped: list[Rejection] = []  # rows that cannot be read: an evaluation leaves them out
    columns, rows = cordis_table(project_path, {
        "id": ("id", "projectID"), "title": ("title",), "objective": ("objective",), "start": ("startDate",),
    }, required=("id", "title", "objective", "start"), limits=DEFAULT_LIMITS, rejected=skipped)
    projects: dict[str, tuple[str, str, date]] = {}
    for _, cells in rows:
        title, objective, started = (cordis_cell(cells, columns, k) for k in ("title", "objective", "start"))
        try:
            projects.setdefault(cordis_cell(cells, columns, "id"), (title, objective, date.fromisoformat(started[:10])))
        except ValueError:
            continue  # no start date: it cannot be placed on either side of the cut
    columns, rows = cordis_table(org_path, {
        "project": ("projectID",), "name": ("name",), "country": ("country",), "activity": ("activityType",),
        "role": ("role",), "order": ("order",),
    }, required=("project", "name", "country"), limits=DEFAULT_LIMITS, rejected=skipped)
    members: dict[str, list[tuple[int, str, str, str]]] = defaultdict(list)  # (coordinator first, order, name, country)
    roles: dict[str, str] = {}
    for _, cells in rows:
        pid, name, country, activity, role, order = (
            cordis_cell(cells, columns, k) for k in ("project", "name", "country", "activity", "role", "order"))
        if pid in projects and name:
            position = int(order) if order.isdigit() else 10**6
            members[pid].append((0 if role.lower() == "coordinator" else 1, f"{position:07d}", name, country))
            if activity.upper() in ROLES:
                roles.setdefault(name, activity.upper())
    out = []
    for pid, entries in members.items():
        entries.sort(key=lambda e: e[:2])
        title, objective, start = projects[pid]
        (_, _, coordinator, country), others = entries[0], entries[1:]
        out.append(Project(id=pid, title=title, objective=objective, start=start, coordinator=coordinator,
                           coordinator_country=country, participants=tuple(r[2] for r in others)))
    if not out:
        raise MatcherError(f"{path}: no project in {project_path.name} has organisations in {org_path.name}")
    return Source(out, roles)


def read_projects(path: Path) -> list[Project]:
    csv.field_size_limit(10_000_000)
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in _REQUIRED if c not in (reader.fieldnames or [])]
            if missing:
                raise MatcherError(f"{path}: missing column(s) {', '.join(missing)}")
            rows = list(reader)
    except FileNotFoundError:
        raise MatcherError(f"{path}: no such file") from None
    projects = []
    for row in rows:
        try:
            start = date.fromisoformat(row["startDate"][:10])
        except ValueError:
            continue  # a project without a start date cannot be placed on either side of the cut
        participants = tuple(p.strip() for p in (row["participants"] or "").split(";") if p.strip())
        projects.append(
            Project(
                id=row["id"], title=row["title"].strip(), objective=(row["objective"] or "").strip(),
                start=start, coordinator=row["coordinator"].strip(),
                coordinator_country=(row["coordinatorCountry"] or "").strip(), participants=participants,
            )
        )
    return projects


def _country(code: str) -> str:
    from matcher.domain.countries import normalise_country

    try:
        return normalise_country(code)
    except MatcherError:
        return NO_COUNTRY


def temporal_split(
    projects: Iterable[Project], cut: date, until: date | None = None, roles: Mapping[str, str] | None = None
) -> Split:
    """Profiles from the projects before `cut`, queries from those in [cut, until). Each profile's
    role is `roles[name]` when roles are given (a CORDIS export), else guessed from its name."""
    history = sorted((p for p in projects if p.start < cut), key=lambda p: (p.start, p.id))
    works: dict[str, list[Work]] = defaultdict(list)
    names: dict[str, str] = {}
    countries: dict[str, str] = {}
    for project in history:
        ids = [org_id(m) for m in project.members]
        for member, oid in zip(project.members, ids, strict=True):
            names.setdefault(oid, member)
            others = tuple(o for o in ids if o != oid)
            works[oid].append(
                Work(id=f"cordis-{project.id}", title=project.title, abstract=project.objective,
                     year=project.start.year, coauthors=others)
            )
        countries[ids[0]] = _country(project.coordinator_country)
    profiles = [
        Profile(id=oid, name=names[oid], country=countries.get(oid, NO_COUNTRY), kind="organisation",
                institution=names[oid], works=tuple(works[oid]),
                role=guess_role(names[oid]) if roles is None else roles.get(names[oid]))
        for oid in sorted(works)
    ]
    later = sorted(
        (p for p in projects if p.start >= cut and (until is None or p.start < until) and len(p.members) >= 2),
        key=lambda p: (p.start, p.id),
    )
    queries = []
    for project in later:
        members = {org_id(m) for m in project.members} & works.keys()
        coordinator = org_id(project.coordinator)
        has_coordinator = coordinator in works
        if not members:
            continue
        queries.append(
            EvalQuery(
                project=project,
                coordinator=coordinator if has_coordinator else None,
                idea_targets=frozenset(members),
                coordinator_targets=frozenset(members - {coordinator}) if has_coordinator else frozenset(),
            )
        )
    return Split(profiles, queries)


def evaluate(
    corpus: Corpus,
    queries: list[EvalQuery],
    query_vectors: np.ndarray,
    config: ScoringConfig,
    *,
    diversity: float = 0.0,
    progress: Callable[[Iterable[int]], Iterable[int]] | None = None,
) -> dict[str, dict[str, float]]:
    """Recall@10, Recall@50, MRR and nDCG@10 for both variants (country rules off; the diversity
    re-rank off unless `diversity` says otherwise)."""
    rules = MatchRules(exclude_own_country=False)
    sums: dict[str, dict[str, float]] = {"idea": defaultdict(float), "coordinator_idea": defaultdict(float)}
    steps: Iterable[int] = range(len(queries))
    if progress is not None:
        steps = progress(steps)
    for i in steps:
        q = queries[i]
        variants: list[tuple[str, int | None, frozenset[str]]] = [("idea", None, q.idea_targets)]
        if q.coordinator is not None and q.coordinator_targets:
            variants.append(("coordinator_idea", corpus.row_of[q.coordinator], q.coordinator_targets))
        for name, requester, targets in variants:
            prepared = PreparedQuery(
                requester=requester, text=q.project.text, text_vector=query_vectors[i], k=50, rules=rules,
                diversity=diversity,
            )
            ranked = rank(corpus, prepared, config)
            ids = [corpus.ids[r] for r in ranked[0].rows[ranked[1]]] if ranked else []
            bucket = sums[name]
            bucket["recall@10"] += recall_at(ids, set(targets), 10)
            bucket["recall@50"] += recall_at(ids, set(targets), 50)
            bucket["mrr"] += reciprocal_rank(ids, set(targets))
            bucket["ndcg@10"] += ndcg_at(ids, set(targets), 10)
            bucket["queries"] += 1
    return {
        name: {
            **{m: round(v / max(b["queries"], 1), 4) for m, v in b.items() if m != "queries"},
            "queries": int(b["queries"]),
        }
        for name, b in sums.items()
    }


def evaluate_fair(
    corpus: Corpus, queries: list[EvalQuery], query_vectors: np.ndarray, config: ScoringConfig,
    *, k: int = 10, caps: tuple[int, ...] = (),
) -> dict[str, object]:
    """The relevance cost of the fairness option: every idea query's list as one batch, plain top-k
    against the capacity-constrained top-k of `matcher batch --fair` (each list filled from its own
    4k best candidates, no organisation in more than `cap` lists), with the Gini of how often each
    organisation is suggested. The default cap (1.5 x the average exposure) and each of `caps`."""
    from matcher.assign.exposure import CANDIDATES_FACTOR, exposure_cap, fair_topk, gini

    rules = MatchRules(exclude_own_country=False)
    width = CANDIDATES_FACTOR * k
    indices = np.full((len(queries), width), -1, dtype=np.int64)
    scores = np.full((len(queries), width), -np.inf, dtype=np.float32)
    for i, q in enumerate(queries):
        prepared = PreparedQuery(text=q.project.text, text_vector=query_vectors[i], k=width, rules=rules, diversity=0.0)
        ranked = rank(corpus, prepared, config)
        if ranked is not None:
            scored, chosen = ranked
            indices[i, : len(chosen)] = scored.rows[chosen]
            scores[i, : len(chosen)] = scored.scores[chosen]

    def figures(lists: np.ndarray) -> dict[str, float]:
        recall = np.mean([
            recall_at([corpus.ids[r] for r in row if r >= 0], set(q.idea_targets), k)
            for row, q in zip(lists, queries, strict=True)
        ])
        exposure = np.bincount(lists[lists >= 0], minlength=len(corpus))[corpus.active]
        return {f"recall@{k}": round(float(recall), 4), "gini": round(gini(exposure), 4),
                "most_suggested": int(exposure.max(initial=0))}

    default_cap = exposure_cap(len(queries), corpus.n_active, k)
    out: dict[str, object] = {"queries": len(queries), "k": k, "plain": figures(indices[:, :k])}
    for cap in dict.fromkeys((default_cap, *caps)):
        fair, _ = fair_topk(indices, scores, k, cap=cap)
        out[f"fair, cap {cap}" + (" (default)" if cap == default_cap else "")] = figures(fair)
    return out


def tqdm_progress(desc: str) -> Callable[[Iterable[int]], Iterable[int]]:
    return lambda steps: tqdm(steps, desc=desc, file=sys.stderr, leave=False)
