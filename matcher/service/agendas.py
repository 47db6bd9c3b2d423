"""The matchmaking day use case: an event, its participants and their meeting requests (files or API
bodies) in, an agenda out. Suggestions come from the matching state (each participant's best
partners among the participants, under the cross-border rule) and conflicts of interest from the
project's rules (co-authors, one institution)."""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from matcher.assign.agenda import Agenda, Event, MeetingRequest, Slot, idle_share, plan_agenda
from matcher.assign.rows import Person
from matcher.assign.topk import topk_pairs
from matcher.domain.errors import InvalidQuery
from matcher.index.corpus import Corpus
from matcher.score.rules import conflict_pairs

__all__ = ["EVENT_EXAMPLE", "AgendaRun", "agenda_data", "parse_event", "parse_requests", "read_rows", "run_agenda"]

MAX_SLOTS, MAX_TABLES, MAX_REQUESTS = 200, 1000, 50_000
EVENT_EXAMPLE = {
    "name": "Bilateral call matchmaking day",
    "tables": 30, "max_meetings": 6, "cross_border_only": True,
    "day": {"start": "2026-03-10T09:00", "slot_minutes": 25, "gap_minutes": 5, "count": 8,
            "breaks": [{"after": 4, "minutes": 60}]},
    "availability": {"tr-0001": [1, 2, 3, 4]},
}


@dataclass(frozen=True)
class AgendaRun:
    agenda: Agenda
    event: Event
    people: dict[str, Person]
    suggestions: tuple[tuple[str, str, float], ...]
    idle_share: float


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a CSV, XLSX, JSON (a list of objects, or {"requests": [...]}) or JSONL file."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            with path.open(newline="", encoding="utf-8-sig") as f:
                return [dict(r) for r in csv.DictReader(f)]
        if suffix == ".xlsx":
            import openpyxl

            book = openpyxl.load_workbook(path, read_only=True, data_only=True)
            rows = list(book.worksheets[0].iter_rows(values_only=True))
            head = [str(h or "").strip() for h in rows[0]] if rows else []
            return [dict(zip(head, r, strict=False)) for r in rows[1:] if any(v is not None for v in r)]
        if suffix == ".jsonl":
            return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        data = json.loads(path.read_text())
    except (OSError, ValueError, KeyError, IndexError) as err:
        raise InvalidQuery(f"{path.name}: cannot be read ({type(err).__name__}: {err})") from err
    if isinstance(data, dict):
        data = next((v for v in data.values() if isinstance(v, list)), [])
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise InvalidQuery(f"{path.name}: expected a list of objects")
    return data


def parse_event(data: Mapping[str, Any]) -> Event:
    """An event from its JSON form (see EVENT_EXAMPLE): `slots` as a list of {start, end}, or `day`."""
    if not isinstance(data, Mapping):
        raise InvalidQuery("the event must be an object")
    try:
        slots = _day(data["day"]) if "day" in data else tuple(
            Slot(_time(s["start"]), _time(s["end"])) for s in data["slots"][:MAX_SLOTS + 1])
        tables, most = int(data["tables"]), int(data.get("max_meetings", len(slots)))
        availability = {str(person): frozenset(int(n) - 1 for n in numbers)
                        for person, numbers in dict(data.get("availability") or {}).items()}
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as err:
        what = f"missing {err}" if isinstance(err, KeyError) else "a value has the wrong type or form"
        raise InvalidQuery(f"event: {what}; it needs tables, and slots or day (see the example)") from err
    if not 1 <= len(slots) <= MAX_SLOTS or not 1 <= tables <= MAX_TABLES or most < 1:
        raise InvalidQuery(f"event: 1-{MAX_SLOTS} slots, 1-{MAX_TABLES} tables and max_meetings >= 1")
    if any(s.end <= s.start for s in slots) or any(b.start < a.end for a, b in zip(slots, slots[1:], strict=False)):
        raise InvalidQuery("event: every slot ends after it starts, and slots follow each other without overlap")
    for person, chosen in availability.items():
        if any(not 0 <= n < len(slots) for n in chosen):
            raise InvalidQuery(f"event: availability of {person} names a slot outside 1-{len(slots)}")
    return Event(slots, tables, most, bool(data.get("cross_border_only", False)), availability,
                 str(data.get("name") or "Matchmaking day"))


def parse_requests(rows: Sequence[Mapping[str, Any]]) -> list[MeetingRequest]:
    if len(rows) > MAX_REQUESTS:
        raise InvalidQuery(f"at most {MAX_REQUESTS} requests")
    out = []
    for n, r in enumerate(rows, 1):
        a, b = str(r.get("requester_id") or "").strip(), str(r.get("target_id") or "").strip()
        if not a or not b:
            raise InvalidQuery(f"request {n}: requester_id and target_id are both needed")
        try:
            priority = float(r.get("priority") or 1.0)
        except (TypeError, ValueError) as err:
            raise InvalidQuery(f"request {n}: priority must be a number") from err
        if not 0 < priority <= 100 or priority != priority:
            raise InvalidQuery(f"request {n}: priority must be above 0 and at most 100")
        out.append(MeetingRequest(a, b, priority))
    return out


def run_agenda(corpus: Corpus, event: Event, requests: Sequence[MeetingRequest],
               participants: Sequence[str] = (), *, k: int = 5, time_limit_s: float = 20.0) -> AgendaRun:
    """Plan the day for `participants` (default: everyone a request names who is in the store)."""
    named = list(dict.fromkeys(participants or [x for r in requests for x in (r.requester_id, r.target_id)]))
    ids = [i for i in named if i in corpus.row_of and corpus.active[corpus.row_of[i]]]
    if participants and len(ids) < len(named):
        missing = [i for i in named if i not in ids]
        raise InvalidQuery(f"{len(missing)} participant(s) are not in the store: {', '.join(missing[:5])}")
    rows = np.asarray([corpus.row_of[i] for i in ids], dtype=np.int64)
    countries = {i: str(corpus.countries[r]) for i, r in zip(ids, rows.tolist(), strict=True)}
    people = {i: Person(str(corpus.names[r]), countries[i], str(corpus.institution_names[r]))
              for i, r in zip(ids, rows.tolist(), strict=True)}
    conflicts = [(ids[a], ids[b]) for a, b in conflict_pairs(corpus, rows)] if len(ids) else []
    suggestions: list[tuple[str, str, float]] = []
    if len(ids) >= 2:
        blocked = np.asarray(sorted((ids.index(a), ids.index(b)) for a, b in conflicts), dtype=np.int64).reshape(-1, 2)
        indices, scores = topk_pairs(corpus.summaries(rows), min(k, len(ids) - 1), countries=corpus.countries[rows],
                                     exclude_same_country=event.cross_border_only, blocked_pairs=blocked)
        for i, (found, score) in enumerate(zip(indices, scores, strict=True)):
            suggestions.extend((ids[i], ids[int(j)], float(s)) for j, s in zip(found, score, strict=True) if j >= 0)
    agenda = plan_agenda(event, countries, requests, suggestions, conflicts, time_limit_s=time_limit_s)
    return AgendaRun(agenda, event, people, tuple(suggestions), idle_share(event, agenda.meetings, suggestions,
                                                                            conflicts))


def agenda_data(run: AgendaRun) -> dict[str, Any]:
    """The agenda as JSON: the summary, the meetings and the requests left out."""
    a = run.agenda
    requested = sum(m.kind != "suggested" for m in a.meetings)
    reasons: dict[str, int] = {}
    for u in a.unscheduled:
        reasons[u.reason.split(":")[0]] = reasons.get(u.reason.split(":")[0], 0) + 1
    return {
        "summary": {"meetings": len(a.meetings), "requested_meetings": requested,
                    "requested_bound": a.requests_bound, "unscheduled": len(a.unscheduled),
                    "unscheduled_reasons": reasons, "status": a.status, "gap": round(a.gap, 6),
                    "idle_share": round(run.idle_share, 6), "seconds": round(a.seconds, 3)},
        "meetings": [{"slot": m.slot + 1, "slot_start": run.event.slots[m.slot].start.isoformat(timespec="minutes"),
                      "slot_end": run.event.slots[m.slot].end.isoformat(timespec="minutes"), "table": m.table,
                      "participant_a": m.a, "participant_b": m.b, "kind": m.kind} for m in a.meetings],
        "unscheduled": [{"requester_id": u.requester_id, "target_id": u.target_id, "reason": u.reason}
                        for u in a.unscheduled],
    }


def _time(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _day(day: Mapping[str, Any]) -> tuple[Slot, ...]:
    start, length = _time(day["start"]), timedelta(minutes=float(day["slot_minutes"]))
    gap = timedelta(minutes=float(day.get("gap_minutes", 0)))
    breaks = {int(b["after"]): timedelta(minutes=float(b["minutes"])) for b in day.get("breaks", [])}
    slots = []
    for n in range(min(int(day["count"]), MAX_SLOTS + 1)):
        slots.append(Slot(start, start + length))
        start = start + length + gap + breaks.get(n + 1, timedelta())
    return tuple(slots)
