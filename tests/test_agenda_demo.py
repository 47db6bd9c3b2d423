"""Acceptance on the demo pool: a day of 120 participants, 8 slots, 30 tables and 300 random
requests, planned from the command line (and over HTTP), every request met or listed with a reason."""

from __future__ import annotations

import csv
import json
import random

import pytest

from matcher.service.agendas import EVENT_EXAMPLE

pytestmark = pytest.mark.timeout(600)


def _day(demo_engine, tmp_path):
    ids = sorted(p.id for p in demo_engine.store.profiles())
    rng = random.Random(22)
    people = rng.sample(ids, 120)
    requests = []
    while len(requests) < 300:
        a, b = rng.sample(people, 2)
        requests.append({"requester_id": a, "target_id": b, "priority": rng.choice([1, 1, 2])})
    requests.append({"requester_id": people[0], "target_id": "nobody-0000", "priority": 1})
    event = {**EVENT_EXAMPLE, "tables": 30, "max_meetings": 6,
             "availability": {people[1]: [1, 2], people[2]: [7, 8]}}
    event["day"] = {**EVENT_EXAMPLE["day"], "count": 8}
    (tmp_path / "event.json").write_text(json.dumps(event))
    with open(tmp_path / "requests.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["requester_id", "target_id", "priority"])
        writer.writeheader()
        writer.writerows(requests)
    with open(tmp_path / "people.csv", "w", newline="") as f:
        f.write("id\n" + "\n".join(people) + "\n")
    return event, requests, people


def _check(data, event, requests, people):
    meetings, unscheduled = data["meetings"], data["unscheduled"]
    booked = set()
    per_slot: dict[int, int] = {}
    for m in meetings:
        for p in (m["participant_a"], m["participant_b"]):
            assert (p, m["slot"]) not in booked
            booked.add((p, m["slot"]))
        per_slot[m["slot"]] = per_slot.get(m["slot"], 0) + 1
        assert m["participant_a"] in people and m["participant_b"] in people
    assert max(per_slot.values()) <= event["tables"]
    assert all(slot in (1, 2) for p, slot in booked if p == people[1])
    met = {frozenset((m["participant_a"], m["participant_b"])) for m in meetings if m["kind"] != "suggested"}
    left = {(u["requester_id"], u["target_id"]) for u in unscheduled}
    for r in requests:
        assert frozenset((r["requester_id"], r["target_id"])) in met or (r["requester_id"], r["target_id"]) in left
    assert any(u["reason"].startswith("unknown participant") for u in unscheduled)
    assert data["summary"]["requested_meetings"] > 150
    assert len(meetings) == 8 * event["tables"] or any(m["kind"] == "suggested" for m in meetings)


def test_agenda_from_the_cli_on_the_demo_pool(demo_engine, tmp_path):
    from icalendar import Calendar

    from .test_cli import matcher

    event, requests, people = _day(demo_engine, tmp_path)
    out = tmp_path / "day"
    result = matcher(demo_engine.store.home, "agenda", "--event", str(tmp_path / "event.json"), "--requests",
                     str(tmp_path / "requests.csv"), "--participants", str(tmp_path / "people.csv"),
                     "--out", str(out), "--json", "--time-limit", "10")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    _check(data, event, requests, people)
    with open(out / "agenda.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(data["meetings"]) and all(r["name_a"] and r["country_b"] for r in rows)
    calendars = list((out / "calendars").glob("*.ics"))
    assert calendars and all(Calendar.from_ical(c.read_bytes()).walk("VEVENT") for c in calendars)
    assert "Table 1" in (out / "grid.html").read_text()


def test_agenda_over_http_on_the_demo_pool(demo_engine, demo_services, tmp_path):
    import time

    from fastapi.testclient import TestClient

    from api.app import create_app
    from matcher.store.keys import KeyStore

    event, requests, people = _day(demo_engine, tmp_path)
    keys = KeyStore(demo_engine.store)
    agency, other = keys.create("agency")[1], keys.create("agency")[1]
    with TestClient(create_app(demo_engine.config, services=demo_services), headers={"X-API-Key": agency}) as client:
        started = client.post("/v1/agendas", json={"event": event, "requests": requests, "participant_ids": people})
        assert started.status_code == 202, started.text
        job_id = started.json()["id"]
        for _ in range(600):
            status = client.get(f"/v1/agendas/{job_id}").json()
            if status["status"] in ("done", "failed"):
                break
            time.sleep(0.2)
        assert status["status"] == "done", status
        result = client.get(f"/v1/agendas/{job_id}/result")
        assert result.status_code == 200
        _check(result.json(), event, requests, people)
        assert client.get(f"/v1/agendas/{job_id}/result?format=csv").text.startswith("slot_start,slot_end,table")
        assert "Table 1" in client.get(f"/v1/agendas/{job_id}/result?format=html").text
        someone = result.json()["meetings"][0]["participant_a"]
        ics = client.get(f"/v1/agendas/{job_id}/result", params={"format": "ics", "participant": someone})
        assert ics.status_code == 200 and ics.text.startswith("BEGIN:VCALENDAR")
        assert client.get(f"/v1/agendas/{job_id}/result?format=ics").status_code == 422
        assert client.get(f"/v1/agendas/{job_id}/result?format=ics&participant=../agenda").status_code == 404
        assert client.get(f"/v1/agendas/{job_id}", headers={"X-API-Key": other}).status_code == 404
        bad = client.post("/v1/agendas", json={"event": {"tables": 0}, "requests": requests})
        assert bad.status_code == 422


def test_an_agenda_job_is_no_batch(fake_services):
    import time

    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import ApiConfig

    app = create_app(fake_services.config, services=fake_services, api=ApiConfig(rate_limit_per_minute=10_000))
    key = fake_services.keys.create("agency")[1]
    with TestClient(app, headers={"X-API-Key": key}) as client:
        event = {"tables": 2, "max_meetings": 2, "slots": [{"start": "2026-03-10T09:00", "end": "2026-03-10T09:25"}]}
        job = client.post("/v1/agendas", json={"event": event, "requests": [
            {"requester_id": "p001", "target_id": "p002"}]}).json()["id"]
        for _ in range(100):
            if client.get(f"/v1/agendas/{job}").json()["status"] == "done":
                break
            time.sleep(0.05)
        assert client.get(f"/v1/agendas/{job}/result").json()["summary"]["meetings"] == 1
        assert client.get(f"/v1/batches/{job}/result").status_code == 404
