"""The meeting agenda: its hard rules hold for any event, and every request is met or explained."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.assign.agenda import REASONS, Event, MeetingRequest, Slot, idle_share, plan_agenda

T0 = datetime(2026, 3, 10, 9, 0)


def _slots(n: int) -> tuple[Slot, ...]:
    return tuple(Slot(T0 + timedelta(minutes=30 * i), T0 + timedelta(minutes=30 * i + 25)) for i in range(n))


@st.composite
def events(draw):
    people = [f"p{i:02d}" for i in range(draw(st.integers(2, 14)))]
    countries = {p: draw(st.sampled_from(["DE", "TR", "FR"])) for p in people}
    n_slots = draw(st.integers(1, 5))
    availability = {p: frozenset(draw(st.sets(st.integers(0, n_slots - 1))))
                    for p in draw(st.sets(st.sampled_from(people), max_size=4))}
    event = Event(_slots(n_slots), tables=draw(st.integers(1, 4)), max_meetings=draw(st.integers(0, 4)),
                  cross_border_only=draw(st.booleans()), availability=availability)
    ids = [*people, "nobody"]
    requests = draw(st.lists(st.builds(MeetingRequest, st.sampled_from(ids), st.sampled_from(ids),
                                       st.sampled_from([1.0, 2.0])), max_size=25))
    suggestions = draw(st.lists(st.tuples(st.sampled_from(people), st.sampled_from(people),
                                          st.floats(0, 1)), max_size=15))
    conflicts = draw(st.lists(st.tuples(st.sampled_from(people), st.sampled_from(people)), max_size=3))
    return event, countries, requests, suggestions, conflicts


def _check(event, countries, requests, agenda, conflicts):
    seen = set()
    per_person: dict[str, int] = {}
    per_slot: dict[int, set[int]] = {}
    blocked = {frozenset(c) for c in conflicts}
    for m in agenda.meetings:
        assert m.a != m.b and frozenset((m.a, m.b)) not in blocked
        for p in (m.a, m.b):
            assert (p, m.slot) not in seen, "double booking"
            seen.add((p, m.slot))
            assert m.slot in event.available(p)
            per_person[p] = per_person.get(p, 0) + 1
        assert 1 <= m.table <= event.tables
        assert m.table not in per_slot.setdefault(m.slot, set())
        per_slot[m.slot].add(m.table)
        if event.cross_border_only:
            assert countries[m.a] != countries[m.b]
    assert all(n <= event.max_meetings for n in per_person.values())
    met = {frozenset((m.a, m.b)) for m in agenda.meetings if m.kind != "suggested"}
    explained = {(u.requester_id, u.target_id) for u in agenda.unscheduled}
    for r in requests:
        assert frozenset((r.requester_id, r.target_id)) in met or (r.requester_id, r.target_id) in explained
    assert all(u.reason.split(":")[0] in REASONS for u in agenda.unscheduled)
    assert 0.0 <= agenda.gap <= 1.0


@settings(max_examples=60, deadline=None)
@given(events(), st.booleans())
def test_agenda_rules_hold(case, exact):
    event, countries, requests, suggestions, conflicts = case
    agenda = plan_agenda(event, countries, requests, suggestions, conflicts, time_limit_s=2, exact=exact, workers=1)
    _check(event, countries, requests, agenda, conflicts)
    assert 0.0 <= idle_share(event, agenda.meetings, suggestions, conflicts) <= 1.0


def test_requests_come_before_suggestions_and_mutual_counts_more():
    countries = {"a": "DE", "b": "TR", "c": "FR"}
    event = Event(_slots(1), tables=1, max_meetings=1)
    requests = [MeetingRequest("a", "b"), MeetingRequest("c", "b"), MeetingRequest("b", "c")]
    agenda = plan_agenda(event, countries, requests, [("a", "c", 1.0)])
    assert [(m.a, m.b, m.kind) for m in agenda.meetings] == [("b", "c", "mutual")]
    assert agenda.status == "optimal" and agenda.gap == 0.0
    assert [u.reason.split(":")[0] for u in agenda.unscheduled] == ["over the maximum"]


def test_suggestions_fill_free_slots_and_reasons_name_the_cause():
    countries = {"a": "DE", "b": "TR", "c": "FR", "d": "DE"}
    event = Event(_slots(2), tables=1, max_meetings=2, cross_border_only=True,
                  availability={"c": frozenset({0})})
    requests = [MeetingRequest("a", "b"), MeetingRequest("a", "d"), MeetingRequest("a", "zz"),
                MeetingRequest("b", "c")]
    agenda = plan_agenda(event, countries, requests, [("a", "c", 0.9)], conflicts=[("b", "c")])
    kinds = sorted(m.kind for m in agenda.meetings)
    assert kinds == ["requested", "suggested"]
    reasons = {(u.requester_id, u.target_id): u.reason.split(":")[0] for u in agenda.unscheduled}
    assert reasons == {("a", "d"): "same country", ("a", "zz"): "unknown participant",
                       ("b", "c"): "conflict of interest"}


@settings(max_examples=25, deadline=None)
@given(events())
def test_every_calendar_parses_with_one_event_per_meeting(tmp_path_factory, case):
    import csv as csv_module

    from icalendar import Calendar

    from matcher.assign.rows import Person
    from matcher.export.agenda import file_stem, write_agenda

    event, countries, requests, suggestions, conflicts = case
    agenda = plan_agenda(event, countries, requests, suggestions, conflicts, exact=False)
    people = {p: Person(name=f"Name {p}", country=c) for p, c in countries.items()}
    out = tmp_path_factory.mktemp("agenda")
    write_agenda(agenda, event, people, out)
    with (out / "agenda.csv").open() as f:
        assert len(list(csv_module.DictReader(f))) == len(agenda.meetings)
    for person in countries:
        mine = [m for m in agenda.meetings if person in (m.a, m.b)]
        ics = out / "calendars" / f"{file_stem(person)}.ics"
        assert ics.exists() == bool(mine)
        if mine:
            cal = Calendar.from_ical(ics.read_bytes())
            assert len(cal.walk("VEVENT")) == len(mine)
            assert (out / "agendas" / f"{file_stem(person)}.html").exists()
    assert "Table" in (out / "grid.html").read_text() or not agenda.meetings


def test_agenda_help_documents_the_event_file(tmp_path):
    from .test_cli import matcher

    result = matcher(tmp_path, "agenda", "--help")
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    for words in ("Examples", "max_meetings", "cross_border_only", "slot_minutes", "availability", "--participants"):
        assert words in text, words
