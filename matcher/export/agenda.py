"""A matchmaking day's agenda on disk: `agenda.csv`, `unscheduled.csv`, the master grid
(`grid.html`, slot x table), and for each participant a printable page (`agendas/ID.html`) and a
calendar (`calendars/ID.ics`, one event per meeting)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path

from icalendar import Calendar
from icalendar import Event as CalendarEvent

from matcher.assign.agenda import Agenda, Event, Meeting
from matcher.assign.rows import Person
from matcher.store.atomic import write_bytes_atomic

__all__ = ["AGENDA_COLUMNS", "UNSCHEDULED_COLUMNS", "agenda_rows", "calendar", "file_stem", "write_agenda"]

AGENDA_COLUMNS = (
    "slot_start", "slot_end", "table", "participant_a", "participant_b", "kind",
    "name_a", "country_a", "name_b", "country_b",
)
UNSCHEDULED_COLUMNS = ("requester_id", "target_id", "reason", "requester_name", "target_name")
_CSS = """body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222;max-width:80em}
table{border-collapse:collapse}th,td{border:1px solid #bbb;padding:.3em .5em;text-align:left;vertical-align:top}
.requested{background:#eef}.mutual{background:#dfd}.suggested{background:#f7f7f7}
@media print{body{margin:0}a{color:inherit;text-decoration:none}}"""


def file_stem(person_id: str) -> str:
    """A participant's id as a safe file name."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", person_id).lstrip(".") or "_"


def agenda_rows(agenda: Agenda, event: Event, people: Mapping[str, Person]) -> list[dict[str, object]]:
    rows = []
    for m in agenda.meetings:
        slot = event.slots[m.slot]
        a, b = people.get(m.a, Person()), people.get(m.b, Person())
        rows.append({
            "slot_start": slot.start.isoformat(timespec="minutes"), "slot_end": slot.end.isoformat(timespec="minutes"),
            "table": m.table, "participant_a": m.a, "participant_b": m.b, "kind": m.kind,
            "name_a": a.name, "country_a": a.country, "name_b": b.name, "country_b": b.country,
        })
    return rows


def calendar(person_id: str, meetings: Sequence[Meeting], event: Event, people: Mapping[str, Person]) -> bytes:
    """One participant's meetings as an iCalendar file."""
    cal = Calendar()
    cal.add("prodid", "-//research partner matcher//agenda//EN")
    cal.add("version", "2.0")
    for m in meetings:
        other = m.b if m.a == person_id else m.a
        who = people.get(other, Person())
        entry = CalendarEvent()
        entry.add("uid", f"{event.slots[m.slot].start:%Y%m%dT%H%M}-{m.table}-{file_stem(m.a)}-{file_stem(m.b)}@agenda")
        entry.add("dtstart", event.slots[m.slot].start)
        entry.add("dtend", event.slots[m.slot].end)
        entry.add("summary", f"Meeting with {who.name or other}" + (f" ({who.country})" if who.country else ""))
        entry.add("location", f"Table {m.table}")
        entry.add("description", f"{event.name}: {m.kind} meeting with {other}")
        cal.add_component(entry)
    return bytes(cal.to_ical())


def write_agenda(agenda: Agenda, event: Event, people: Mapping[str, Person], directory: Path) -> dict[str, Path]:
    """Write every file of the agenda into `directory`; returns them by name."""
    out = {"agenda.csv": directory / "agenda.csv", "unscheduled.csv": directory / "unscheduled.csv",
           "grid.html": directory / "grid.html"}
    write_bytes_atomic(out["agenda.csv"], _csv(AGENDA_COLUMNS, agenda_rows(agenda, event, people)))
    unscheduled = [{"requester_id": u.requester_id, "target_id": u.target_id, "reason": u.reason,
                    "requester_name": people.get(u.requester_id, Person()).name,
                    "target_name": people.get(u.target_id, Person()).name} for u in agenda.unscheduled]
    write_bytes_atomic(out["unscheduled.csv"], _csv(UNSCHEDULED_COLUMNS, unscheduled))
    write_bytes_atomic(out["grid.html"], grid_page(agenda, event, people).encode())
    by_person: dict[str, list[Meeting]] = {}
    for m in agenda.meetings:
        by_person.setdefault(m.a, []).append(m)
        by_person.setdefault(m.b, []).append(m)
    for person, meetings in sorted(by_person.items()):
        stem = file_stem(person)
        page, ics = directory / "agendas" / f"{stem}.html", directory / "calendars" / f"{stem}.ics"
        write_bytes_atomic(page, _person_page(person, meetings, event, people).encode())
        write_bytes_atomic(ics, calendar(person, meetings, event, people))
        out[f"agendas/{stem}.html"], out[f"calendars/{stem}.ics"] = page, ics
    return out


def grid_page(agenda: Agenda, event: Event, people: Mapping[str, Person]) -> str:
    """The master grid: a row per slot, a column per table."""
    cells = {(m.slot, m.table): m for m in agenda.meetings}
    used = max((m.table for m in agenda.meetings), default=0)
    head = "".join(f"<th scope='col'>Table {t}</th>" for t in range(1, used + 1))
    body = []
    for s, slot in enumerate(event.slots):
        row = [f"<th scope='row'>{slot.start:%H:%M}-{slot.end:%H:%M}</th>"]
        for t in range(1, used + 1):
            m = cells.get((s, t))
            row.append("<td></td>" if m is None else f"<td class='{m.kind}'>{_who(m.a, people)}<br>"
                       f"{_who(m.b, people)}<br><small>{m.kind}</small></td>")
        body.append(f"<tr>{''.join(row)}</tr>")
    summary = (f"{len(agenda.meetings)} meetings in {len(event.slots)} slots at up to {event.tables} tables; "
               f"{len(agenda.unscheduled)} requests not scheduled; solver: {agenda.status}, gap {agenda.gap:.3f}")
    return _page(f"{escape(event.name)}: meeting grid",
                 f"<p>{escape(summary)}</p><table><thead><tr><th scope='col'>Slot</th>{head}</tr></thead>"
                 f"<tbody>{''.join(body)}</tbody></table>")


def _person_page(person: str, meetings: Sequence[Meeting], event: Event, people: Mapping[str, Person]) -> str:
    rows = []
    for m in sorted(meetings, key=lambda m: m.slot):
        other = m.b if m.a == person else m.a
        who = people.get(other, Person())
        slot = event.slots[m.slot]
        rows.append(f"<tr><td>{slot.start:%Y-%m-%d %H:%M}-{slot.end:%H:%M}</td><td>{m.table}</td>"
                    f"<td>{_who(other, people)}</td><td>{escape(who.institution)}</td><td>{m.kind}</td></tr>")
    me = people.get(person, Person())
    title = f"{escape(event.name)}: agenda of {escape(me.name or person)}"
    return _page(title, "<table><thead><tr><th scope='col'>Time</th><th scope='col'>Table</th>"
                        "<th scope='col'>With</th><th scope='col'>Institution</th><th scope='col'>Kind</th></tr>"
                        f"</thead><tbody>{''.join(rows)}</tbody></table>")


def _who(person: str, people: Mapping[str, Person]) -> str:
    p = people.get(person, Person())
    country = f" ({escape(p.country)})" if p.country else ""
    return f"{escape(p.name or person)}{country}"


def _page(title: str, body: str) -> str:
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
            f"<style>{_CSS}</style></head><body><h1>{title}</h1>{body}</body></html>")


def _csv(columns: Sequence[str], rows: Sequence[Mapping[str, object]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()
