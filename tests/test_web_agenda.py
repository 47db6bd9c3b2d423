"""The programme office's matchmaking day page: upload the event and the requests, follow the job,
see the grid, download the files; another key sees nothing of it."""

from __future__ import annotations

import json
import time

from .test_web import app, browser, csrf_of, keys, sign_in  # noqa: F401  (fixtures)

EVENT = {"tables": 2, "max_meetings": 2, "slots": [
    {"start": "2026-03-10T09:00", "end": "2026-03-10T09:25"}, {"start": "2026-03-10T09:30", "end": "2026-03-10T09:55"}]}
REQUESTS = b"requester_id,target_id,priority\np001,p002,1\np002,p001,1\np003,p004,2\np001,nobody,1\n"


def test_agenda_upload_grid_and_downloads(browser, keys, fake_services):  # noqa: F811
    sign_in(browser, keys["agency"])
    form = browser.get("/office/agenda")
    assert form.status_code == 200 and "Plan a matchmaking day" in form.text
    assert "/office/agenda" in browser.get("/office").text
    token = csrf_of(form.text)
    bad = browser.post("/office/agenda", data={"csrf": token},
                       files={"event_file": ("event.json", b"{}", "application/json"),
                              "requests_file": ("r.csv", REQUESTS, "text/csv")})
    assert bad.status_code == 422 and "missing" in bad.text
    started = browser.post("/office/agenda", data={"csrf": token},
                           files={"event_file": ("event.json", json.dumps(EVENT).encode(), "application/json"),
                                  "requests_file": ("r.csv", REQUESTS, "text/csv")}, follow_redirects=False)
    assert started.status_code == 303, started.text
    job = started.headers["location"]
    for _ in range(200):
        html = browser.get(job).text
        if "Table 1" in html or "Stopped" in html:
            break
        time.sleep(0.05)
    assert "Table 1" in html and "mutual" in html and "unknown participant" in html
    assert browser.get(job + "/files/agenda.csv").text.startswith("slot_start,slot_end,table")
    assert browser.get(job + "/files/grid.html").status_code == 200
    assert browser.get(job + "/files/agenda.json").status_code == 404
    browser.cookies.clear()
    sign_in(browser, keys["read"])
    assert browser.get("/office/agenda").status_code == 403
    browser.cookies.clear()
    other = fake_services.keys.create("agency")[1]
    sign_in(browser, other)
    assert browser.get(job).status_code == 404


def test_erasing_a_profile_removes_the_agendas_that_name_it(browser, keys, fake_services):  # noqa: F811
    from matcher.service.profiles import erase

    sign_in(browser, keys["agency"])
    token = csrf_of(browser.get("/office/agenda").text)
    started = browser.post("/office/agenda", data={"csrf": token},
                           files={"event_file": ("event.json", json.dumps(EVENT).encode(), "application/json"),
                                  "requests_file": ("r.csv", REQUESTS, "text/csv")}, follow_redirects=False)
    job = started.headers["location"]
    for _ in range(200):
        if "Table 1" in browser.get(job).text:
            break
        time.sleep(0.05)
    assert browser.get(job + "/files/agenda.csv").status_code == 200
    erase(fake_services, "p003")
    folder = fake_services.store.home / "agendas" / job.rsplit("/", 1)[1]
    assert [p.name for p in folder.iterdir()] == ["request.json"]
    assert browser.get(job + "/files/agenda.csv").status_code == 404
    gone = browser.get(job)
    assert gone.status_code == 200 and "has since been erased" in gone.text
