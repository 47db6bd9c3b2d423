"""Consortia for a funding call over the corpus: aspects, coverage, the pool, rules, explanations.

The solver (`matcher.assemble.consortium`) works on rows and arrays; this module turns a call and its rules
into those arrays and the solver's teams back into members with reasons.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from matcher.assemble.conflicts import explain_conflicts
from matcher.assemble.consortium import MIN_DIFFERENCE, Team, TeamRules, assemble_teams, shortlist
from matcher.domain.errors import InfeasibleConsortium, InvalidQuery
from matcher.embed.chunking import split_sentences
from matcher.index.corpus import Corpus
from matcher.score.rules import conflict_pairs

__all__ = [
    "Aspect", "CallRequest", "ConsortiumResult", "MemberOut", "TeamOut", "coverage_matrix", "parse_group_min",
    "split_aspects", "solve_call", "team_size",
]

MAX_ASPECTS = 30
EXACT_POOL = 60
SOLVER_BUDGET_S = 20.0  # a request's solver time for all its teams; the first team is always found


@dataclass(frozen=True)
class Aspect:
    text: str
    weight: float


@dataclass(frozen=True)
class CallRequest:
    """A call as the agency states it; country specs and ids are external, resolved by the engine."""

    call_text: str | None = None
    aspects: tuple[tuple[str, float], ...] = ()
    min_size: int = 5
    max_size: int = 5
    min_countries: int = 1
    max_per_country: int | None = None
    group_min: tuple[str, ...] = ()  # "widening:1", "DE,FR:2"
    must_include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    exclude_conflicts: bool = True
    kinds: tuple[str, ...] = ()
    pool_ids: tuple[str, ...] = ()
    pool_countries: tuple[str, ...] = ()
    teams: int = 3
    min_difference: int = MIN_DIFFERENCE  # alternative teams differ by at least this many members
    exact: bool = False
    gap_threshold: float = 0.35
    budget_s: float = SOLVER_BUDGET_S


@dataclass(frozen=True)
class MemberOut:
    id: str
    name: str
    country: str
    institution: str
    explanation: str
    covers: tuple[dict[str, object], ...] = ()


@dataclass(frozen=True)
class TeamOut:
    members: tuple[MemberOut, ...]
    score: float
    coverage: tuple[dict[str, object], ...]
    gaps: tuple[str, ...]
    countries: tuple[str, ...]


@dataclass(frozen=True)
class ConsortiumResult:
    aspects: tuple[Aspect, ...]
    teams: tuple[TeamOut, ...]
    method: str
    candidates_considered: int
    notes: tuple[str, ...] = field(default_factory=tuple)


def team_size(size: int | None, min_size: int | None, max_size: int | None, default: int = 5) -> tuple[int, int]:
    """(min, max) team size from what a user gave: `size` sets both; either bound alone works too."""
    low = min_size or size or max_size or default
    return low, max_size or size or max(low, default)


def split_aspects(text: str) -> list[str]:
    """A call's aspects: its sentences, long ones split at ';' or ':' clauses; tiny fragments dropped."""
    out: list[str] = []
    for sentence in split_sentences(text):
        parts = re.split(r"[;:]\s+", sentence) if len(sentence.split()) > 25 else [sentence]
        out.extend(p.strip(" .") for p in parts if len(p.split()) >= 3)
    if not out and text.strip():
        out = [text.strip()]
    if len(out) > MAX_ASPECTS:
        raise InvalidQuery(f"the call splits into {len(out)} aspects; at most {MAX_ASPECTS} (give --aspect instead)")
    return out


def make_aspects(request: CallRequest) -> tuple[Aspect, ...]:
    if request.aspects:
        pairs = [(t.strip(), float(w)) for t, w in request.aspects if t.strip()]
    elif request.call_text and request.call_text.strip():
        pairs = [(t, 1.0) for t in split_aspects(request.call_text)]
    else:
        raise InvalidQuery("give the call text or a list of aspects")
    if any(w < 0 for _, w in pairs) or sum(w for _, w in pairs) <= 0:
        raise InvalidQuery("aspect weights must be non-negative and not all zero")
    total = sum(w for _, w in pairs)
    return tuple(Aspect(t, w / total) for t, w in pairs)


def parse_group_min(spec: str) -> tuple[str, int]:
    """'widening:1' -> ('widening', 1); the part before the last ':' is a country list or group."""
    name, sep, count = spec.rpartition(":")
    if not sep or not name.strip() or not count.strip().isdigit():
        raise InvalidQuery(f"group minimum '{spec}' must look like GROUP:N, e.g. widening:1 or DE,FR:2")
    return name.strip(), int(count)


def coverage_matrix(corpus: Corpus, rows: np.ndarray, aspect_vectors: np.ndarray) -> np.ndarray:
    """Coverage of each aspect by each row: its best work's cosine, clipped to [0, 1]."""
    works, starts = corpus.works_of(rows)
    best = np.maximum.reduceat(corpus.work_sims(works, aspect_vectors), starts, axis=0)
    return np.clip(best, 0.0, 1.0).astype(np.float64)


def _best_works(corpus: Corpus, row: int, aspect_vectors: np.ndarray) -> np.ndarray:
    lo, hi = corpus.work_range(row)
    return lo + np.argmax(corpus.work_sims(slice(lo, hi), aspect_vectors), axis=0)


def solve_call(
    corpus: Corpus,
    request: CallRequest,
    aspects: Sequence[Aspect],
    aspect_vectors: np.ndarray,
    pool: np.ndarray,
    rules: TeamRules,
) -> ConsortiumResult:
    """Teams for the call from the eligible `pool` rows; `rules` name rows of the corpus."""
    weights = np.asarray([a.weight for a in aspects], dtype=np.float64)
    must = list(rules.must_include)
    rows = np.union1d(pool, must).astype(np.int64)
    if len(rows) < rules.min_size:
        raise InfeasibleConsortium(
            "size", f"a team of at least {rules.min_size} is required; the pool has {len(rows)} eligible candidates"
        )
    coverage = coverage_matrix(corpus, rows, aspect_vectors)
    position = {int(r): i for i, r in enumerate(rows)}
    keep = [position[r] for r in must]
    if request.exact:
        picked = shortlist(coverage, weights, per_aspect=3, total=EXACT_POOL // 2,
                           countries=corpus.countries[rows], per_country=1, keep=keep)
        quality = coverage @ weights
        for _, members, _ in rules.group_min:  # a group minimum may need several members from one country
            inside = np.flatnonzero(np.isin(corpus.countries[rows], list(members)))
            best = inside[np.argsort(-quality[inside], kind="stable")[: rules.max_size]]
            picked = np.union1d(picked, best)
    else:
        picked = shortlist(coverage, weights, countries=corpus.countries[rows], per_country=rules.max_size, keep=keep)
    short = rows[picked]
    local = {int(r): i for i, r in enumerate(short)}
    local_rules = TeamRules(
        min_size=rules.min_size, max_size=rules.max_size, min_countries=rules.min_countries,
        max_per_country=rules.max_per_country, group_min=rules.group_min,
        must_include=tuple(local[r] for r in must),
    )
    conflicts = conflict_pairs(corpus, short) if request.exclude_conflicts else frozenset()
    deadline = time.monotonic() + request.budget_s
    try:
        teams = assemble_teams(
            coverage[picked], weights, [str(c) for c in corpus.countries[short]], [corpus.ids[r] for r in short],
            local_rules, conflicts, n_teams=request.teams, method="exact" if request.exact else "greedy",
            gap_threshold=request.gap_threshold, time_limit_s=min(10.0, request.budget_s), deadline=deadline,
            min_difference=request.min_difference,
        )
    except InfeasibleConsortium as err:
        if not request.exclude_conflicts:
            raise
        raise explain_conflicts(corpus, err, short=short, coverage=coverage[picked], weights=weights,
                                rules=local_rules, conflicts=conflicts, pool=rows, exact=request.exact) from None
    out = tuple(_team_out(corpus, t, short, coverage[picked], aspect_vectors, aspects, request) for t in teams)
    notes: tuple[str, ...] = ()
    if len(out) < request.teams and time.monotonic() >= deadline:
        notes = (f"partial answer: {len(out)} of {request.teams} teams within the solver budget of "
                 f"{request.budget_s:g} s; ask for fewer teams or a smaller pool",)
    elif len(out) < request.teams:
        apart = f" and differ from each other by at least {request.min_difference} members"
        notes = (f"only {len(out)} teams satisfy the rules{apart * (request.min_difference > 1)}",)
    return ConsortiumResult(tuple(aspects), out, "exact" if request.exact else "greedy", len(short), notes)


def _team_out(
    corpus: Corpus, team: Team, short: np.ndarray, coverage: np.ndarray, aspect_vectors: np.ndarray,
    aspects: Sequence[Aspect], request: CallRequest,
) -> TeamOut:
    members = list(team.members)
    leader = [members[int(k)] for k in np.argmax(coverage[members], axis=0)]  # who covers each aspect best
    out_members = []
    for m in members:
        row = int(short[m])
        profile_id, country = corpus.ids[row], str(corpus.countries[row])
        best_work = _best_works(corpus, row, aspect_vectors)
        covers = tuple(
            {"aspect": a.text, "similarity": round(float(coverage[m, k]), 3),
             "work_title": corpus.work_titles[int(best_work[k])]}
            for k, a in enumerate(aspects) if leader[k] == m
        )
        role = "must-include member; " if profile_id in request.must_include else ""
        why = "; ".join(f"'{c['aspect']}' via '{c['work_title']}' ({c['similarity']:.2f})" for c in covers)
        explanation = f"{role}best in the team on " + why if covers else f"{role}adds depth on already covered aspects"
        out_members.append(
            MemberOut(profile_id, corpus.names[row], country, corpus.institution_names[row],
                      f"{explanation}; country {country}", covers)
        )
    coverage_out = tuple(
        {"aspect": a.text, "weight": round(a.weight, 4), "coverage": round(float(team.coverage[k]), 3),
         "covered_by": corpus.ids[int(short[leader[k]])]}
        for k, a in enumerate(aspects)
    )
    return TeamOut(
        members=tuple(out_members),
        score=round(team.score, 4),
        coverage=coverage_out,
        gaps=tuple(aspects[k].text for k in team.gaps),
        countries=tuple(str(c) for c in team.countries),
    )
