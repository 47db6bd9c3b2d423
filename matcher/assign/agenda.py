"""One-to-one meeting agendas for a matchmaking day: which pairs meet, in which slot, at which table.

Requested meetings come first (a mutual request counts more), then suggestions fill free slots.
Hard rules: nobody in two meetings at once, availability, tables per slot, the per-person maximum,
optionally cross-border only, and no meeting across a conflict of interest. A greedy pass gives a
fast agenda and the hint for an exact CP-SAT model solved under a time limit, whose gap is reported.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from ortools.sat.python import cp_model

__all__ = [
    "KINDS", "REASONS", "Agenda", "Event", "Meeting", "MeetingRequest", "Slot", "Unscheduled",
    "idle_share", "plan_agenda",
]

KINDS = ("requested", "mutual", "suggested")
UNKNOWN, SAME, CONFLICT, COUNTRY = "unknown participant", "same person", "conflict of interest", "same country"
UNAVAILABLE, OVER_MAX, NO_TABLE = "unavailable", "over the maximum", "no free table"
REASONS = (UNKNOWN, SAME, CONFLICT, COUNTRY, UNAVAILABLE, OVER_MAX, NO_TABLE)
REQUEST_WEIGHT = 1000  # per unit of priority; a suggestion weighs at most 100, below any request


@dataclass(frozen=True)
class Slot:
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Event:
    """Slots in time order, tables per slot, the most meetings a person has, and who is there when.

    `availability` maps a participant to the slot numbers (0-based) they can meet in; a participant
    not in it is available throughout.
    """

    slots: tuple[Slot, ...]
    tables: int
    max_meetings: int
    cross_border_only: bool = False
    availability: Mapping[str, frozenset[int]] = field(default_factory=dict)
    name: str = "Matchmaking day"

    def available(self, person: str) -> frozenset[int]:
        return self.availability.get(person, frozenset(range(len(self.slots))))


@dataclass(frozen=True)
class MeetingRequest:
    requester_id: str
    target_id: str
    priority: float = 1.0


@dataclass(frozen=True)
class Meeting:
    slot: int
    table: int  # 1-based
    a: str
    b: str
    kind: str


@dataclass(frozen=True)
class Unscheduled:
    requester_id: str
    target_id: str
    reason: str


@dataclass(frozen=True)
class Agenda:
    meetings: tuple[Meeting, ...]
    unscheduled: tuple[Unscheduled, ...]
    status: str  # "optimal", "feasible" (CP-SAT within its limit) or "greedy"
    objective: float
    bound: float
    gap: float
    requests_bound: int  # the most requested pairs any agenda could hold (the share's denominator)
    seconds: float


@dataclass(frozen=True)
class _Pair:
    a: str
    b: str
    kind: str
    weight: int
    slots: tuple[int, ...]


def plan_agenda(
    event: Event,
    countries: Mapping[str, str],
    requests: Sequence[MeetingRequest],
    suggestions: Iterable[tuple[str, str, float]] = (),
    conflicts: Iterable[tuple[str, str]] = (),
    *,
    time_limit_s: float = 20.0,
    exact: bool = True,
    workers: int = 4,
) -> Agenda:
    """Plan the day. `countries` names every participant; `suggestions` are (a, b, score in 0-1)."""
    started = time.perf_counter()
    blocked = {frozenset(p) for p in conflicts}
    pairs, refused = _request_pairs(event, countries, requests, blocked)
    requested = {frozenset((p.a, p.b)) for p in pairs}
    for a, b, score in suggestions:
        key = frozenset((a, b))
        if a == b or key in requested or key in blocked or a not in countries or b not in countries:
            continue
        if event.cross_border_only and countries[a] == countries[b]:
            continue
        common = tuple(sorted(event.available(a) & event.available(b)))
        if common:
            requested.add(key)
            pairs.append(_Pair(a, b, "suggested", max(1, round(100 * min(max(score, 0.0), 1.0))), common))
    chosen = _greedy(event, pairs)
    objective = float(sum(pairs[i].weight for i, _ in chosen))
    bound, status = float(sum(p.weight for p in pairs)), "greedy"
    if exact and pairs:
        chosen, objective, bound, status = _exact(event, pairs, chosen, time_limit_s, workers)
    meetings = _tables(pairs, chosen)
    unscheduled = refused + _left_out(event, pairs, meetings)
    gap = 0.0 if bound <= 0 else max(0.0, (bound - objective) / bound)
    return Agenda(tuple(meetings), tuple(unscheduled), status, objective, bound, gap,
                  _requests_bound(event, pairs), time.perf_counter() - started)


def idle_share(event: Event, meetings: Sequence[Meeting], suggestions: Iterable[tuple[str, str, float]],
               conflicts: Iterable[tuple[str, str]] = ()) -> float:
    """Of the free slots people spend below their maximum, the share where a suggested partner was
    free too (available, also below the maximum, not already met) and a table was free."""
    busy, count, met, used = _occupancy(meetings)
    blocked = {frozenset(p) for p in conflicts}
    partners: dict[str, set[str]] = {}
    for a, b, _ in suggestions:
        if a != b and frozenset((a, b)) not in blocked:
            partners.setdefault(a, set()).add(b)
            partners.setdefault(b, set()).add(a)
    free = idle = 0
    for person, others in partners.items():
        if count.get(person, 0) >= event.max_meetings:
            continue
        for s in event.available(person):
            if (person, s) in busy:
                continue
            free += 1
            if used.get(s, 0) < event.tables and any(
                    (o, s) not in busy and s in event.available(o) and count.get(o, 0) < event.max_meetings
                    and frozenset((person, o)) not in met for o in others):
                idle += 1
    return idle / free if free else 0.0


def _request_pairs(event: Event, countries: Mapping[str, str], requests: Sequence[MeetingRequest],
                   blocked: set[frozenset[str]]) -> tuple[list[_Pair], list[Unscheduled]]:
    priority: dict[tuple[str, str], float] = {}
    refused: list[Unscheduled] = []
    for r in requests:
        reason = _refusal(event, countries, r, blocked)
        if reason:
            refused.append(Unscheduled(r.requester_id, r.target_id, reason))
        else:
            key = (r.requester_id, r.target_id)
            priority[key] = max(priority.get(key, 0.0), max(r.priority, 0.0))
    pairs: list[_Pair] = []
    for (a, b), weight_of in sorted(priority.items()):
        back = priority.get((b, a))
        if back is not None and a > b:
            continue  # the mutual pair is made once, from its lower id
        kind = "mutual" if back is not None else "requested"
        weight = REQUEST_WEIGHT * (1 + weight_of + (back or 0.0)) * (2 if back is not None else 1)
        pairs.append(_Pair(a, b, kind, round(weight), tuple(sorted(event.available(a) & event.available(b)))))
    for p in pairs:
        if not p.slots:
            refused.extend(_both(p, f"{UNAVAILABLE}: no slot both can attend"))
    return [p for p in pairs if p.slots], refused


def _refusal(event: Event, countries: Mapping[str, str], r: MeetingRequest, blocked: set[frozenset[str]]) -> str:
    missing = [x for x in (r.requester_id, r.target_id) if x not in countries]
    if missing:
        return f"{UNKNOWN}: {', '.join(missing)}"
    if r.requester_id == r.target_id:
        return SAME
    if frozenset((r.requester_id, r.target_id)) in blocked:
        return f"{CONFLICT}: co-authors or colleagues at one institution"
    if event.cross_border_only and countries[r.requester_id] == countries[r.target_id]:
        return f"{COUNTRY}: both in {countries[r.requester_id]} and the event is cross-border only"
    if event.max_meetings < 1:
        return f"{OVER_MAX}: the event allows no meetings"
    return ""


def _greedy(event: Event, pairs: Sequence[_Pair], start: Sequence[tuple[int, int]] = ()) -> list[tuple[int, int]]:
    """Heaviest pair first, into its least used slot both can still attend; on top of `start`."""
    busy: set[tuple[str, int]] = set()
    count: dict[str, int] = {}
    used = [0] * len(event.slots)
    chosen = list(start)
    for i, s in chosen:
        used[s] += 1
        busy.update({(pairs[i].a, s), (pairs[i].b, s)})
        count[pairs[i].a] = count.get(pairs[i].a, 0) + 1
        count[pairs[i].b] = count.get(pairs[i].b, 0) + 1
    taken = {i for i, _ in chosen}
    for i in sorted(range(len(pairs)), key=lambda i: (-pairs[i].weight, pairs[i].a, pairs[i].b)):
        p = pairs[i]
        if i in taken or count.get(p.a, 0) >= event.max_meetings or count.get(p.b, 0) >= event.max_meetings:
            continue
        free = [s for s in p.slots if used[s] < event.tables and (p.a, s) not in busy and (p.b, s) not in busy]
        if not free:
            continue
        s = min(free, key=lambda s: (used[s], s))
        chosen.append((i, s))
        used[s] += 1
        busy.update({(p.a, s), (p.b, s)})
        count[p.a] = count.get(p.a, 0) + 1
        count[p.b] = count.get(p.b, 0) + 1
    return chosen


def _exact(event: Event, pairs: Sequence[_Pair], hint: list[tuple[int, int]], time_limit_s: float,
           workers: int) -> tuple[list[tuple[int, int]], float, float, str]:
    model = cp_model.CpModel()
    x = {(i, s): model.new_bool_var(f"x{i}_{s}") for i, p in enumerate(pairs) for s in p.slots}
    by_person_slot: dict[tuple[str, int], list] = {}
    by_person: dict[str, list] = {}
    by_slot: dict[int, list] = {}
    for (i, s), var in x.items():
        for person in (pairs[i].a, pairs[i].b):
            by_person_slot.setdefault((person, s), []).append(var)
            by_person.setdefault(person, []).append(var)
        by_slot.setdefault(s, []).append(var)
    for i, p in enumerate(pairs):
        model.add_at_most_one(x[i, s] for s in p.slots)
    for group in by_person_slot.values():
        if len(group) > 1:
            model.add_at_most_one(group)
    for group in by_person.values():
        if len(group) > event.max_meetings:
            model.add(sum(group) <= event.max_meetings)
    for group in by_slot.values():
        if len(group) > event.tables:
            model.add(sum(group) <= event.tables)
    model.maximize(sum(pairs[i].weight * var for (i, _), var in x.items()))
    picked = set(hint)
    for key, var in x.items():
        model.add_hint(var, key in picked)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.1, time_limit_s)
    solver.parameters.num_workers = max(1, workers)
    code = solver.solve(model)
    greedy_value = float(sum(pairs[i].weight for i, _ in hint))
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE) or solver.objective_value < greedy_value:
        bound = solver.best_objective_bound if code != cp_model.UNKNOWN else float(sum(p.weight for p in pairs))
        return hint, greedy_value, max(bound, greedy_value), "greedy"
    chosen = [key for key, var in x.items() if solver.boolean_value(var)]
    status = "optimal" if code == cp_model.OPTIMAL else "feasible"
    if status == "feasible":  # stopped by the time limit: whatever still fits goes in
        chosen = _greedy(event, pairs, chosen)
    value = float(sum(pairs[i].weight for i, _ in chosen))
    return chosen, value, max(solver.best_objective_bound, value), status


def _tables(pairs: Sequence[_Pair], chosen: Iterable[tuple[int, int]]) -> list[Meeting]:
    """Tables numbered from 1 in each slot: requested meetings first, then by ids."""
    order = {"mutual": 0, "requested": 1, "suggested": 2}
    rows = sorted(chosen, key=lambda c: (c[1], order[pairs[c[0]].kind], pairs[c[0]].a, pairs[c[0]].b))
    meetings, table, last = [], 0, -1
    for i, s in rows:
        table = table + 1 if s == last else 1
        last = s
        meetings.append(Meeting(s, table, pairs[i].a, pairs[i].b, pairs[i].kind))
    return meetings


def _occupancy(
    meetings: Sequence[Meeting],
) -> tuple[set[tuple[str, int]], dict[str, int], set[frozenset[str]], dict[int, int]]:
    busy: set[tuple[str, int]] = set()
    count: dict[str, int] = {}
    met: set[frozenset[str]] = set()
    used: dict[int, int] = {}
    for m in meetings:
        busy.update({(m.a, m.slot), (m.b, m.slot)})
        count[m.a] = count.get(m.a, 0) + 1
        count[m.b] = count.get(m.b, 0) + 1
        met.add(frozenset((m.a, m.b)))
        used[m.slot] = used.get(m.slot, 0) + 1
    return busy, count, met, used


def _left_out(event: Event, pairs: Sequence[_Pair], meetings: Sequence[Meeting]) -> list[Unscheduled]:
    """Why each requested pair that passed the rules has no meeting."""
    busy, count, met, used = _occupancy(meetings)
    out = []
    for p in pairs:
        if p.kind == "suggested" or frozenset((p.a, p.b)) in met:
            continue
        full = [x for x in (p.a, p.b) if count.get(x, 0) >= event.max_meetings]
        if full:
            reason = f"{OVER_MAX}: {' and '.join(full)} already at {event.max_meetings} meetings"
        elif any((p.a, s) not in busy and (p.b, s) not in busy for s in p.slots):
            reason = f"{NO_TABLE}: every table taken in the slots both are free"
        else:
            reason = f"{UNAVAILABLE}: no slot both can attend is free for both"
        out.extend(_both(p, reason))
    return out


def _both(p: _Pair, reason: str) -> list[Unscheduled]:
    """The request behind a pair, both of them for a mutual one."""
    back = [Unscheduled(p.b, p.a, reason)] if p.kind == "mutual" else []
    return [Unscheduled(p.a, p.b, reason), *back]


def _requests_bound(event: Event, pairs: Sequence[_Pair]) -> int:
    """Requested pairs that pass the rules, capped by the tables and by the people's maxima."""
    requested = [p for p in pairs if p.kind != "suggested"]
    people: dict[str, int] = {}
    for p in requested:
        people[p.a] = people.get(p.a, 0) + 1
        people[p.b] = people.get(p.b, 0) + 1
    per_person = sum(min(n, event.max_meetings, len(event.slots)) for n in people.values()) // 2
    return min(len(requested), len(event.slots) * event.tables, per_person)
