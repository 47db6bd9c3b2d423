"""The web pages over the real app and store (fake embedder): sessions, CSRF, the access matrix
through the pages, and each flow's answers. The same flows in a real browser: test_web_browser.py."""

from __future__ import annotations

import csv
import io
import json
import re
import stat
import time

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook

from api.app import create_app
from api.settings import ApiConfig
from api.web.session import COOKIE, SECRET_FILE
from matcher.domain.countries import expand_countries
from matcher.service.bootstrap import Services

from .conftest import ROOT, fake_services_at, small_pool

WIDENING = expand_countries(["widening"])


@pytest.fixture()
def keys(fake_services: Services) -> dict[str, str]:
    out = {scope: fake_services.keys.create(scope, label=f"{scope} key")[1] for scope in ("read", "agency", "admin")}
    out["owner"] = fake_services.keys.create("owner", owner="p001")[1]
    return out


@pytest.fixture()
def app(fake_services: Services):
    return create_app(fake_services.config, services=fake_services, api=ApiConfig(rate_limit_per_minute=10_000))


@pytest.fixture()
def browser(app):
    with TestClient(app) as client:
        yield client


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def sign_in(client: TestClient, key: str) -> str:
    """Sign in with `key`; the CSRF token of the session."""
    page = client.get("/")
    answer = client.post("/sign-in", data={"csrf": csrf_of(page.text), "key": key}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return csrf_of(client.get("/find").text)


def test_home_is_the_sign_in_page_and_v1_is_unchanged(browser):
    page = browser.get("/")
    assert page.status_code == 200 and "Sign in" in page.text and 'name="key"' in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    paths = browser.get("/openapi.json").json()["paths"]
    assert all(p.startswith("/v1") or p == "/health" for p in paths), "pages must not enter the API's schema"
    assert browser.get("/static/vendor/htmx.min.js").status_code == 200
    assert browser.get("/static/style.css").status_code == 200


def test_sign_in_makes_a_strict_httponly_session_and_sign_out_ends_it(browser, keys, fake_services):
    page = browser.get("/")
    answer = browser.post("/sign-in", data={"csrf": csrf_of(page.text), "key": keys["read"], "next": "/profiles"},
                          follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/profiles"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=strict" in cookie.replace(
        "samesite", "SameSite")
    assert 28_000 < int(re.search(r"Max-Age=(\d+)", cookie).group(1)) <= 8 * 3600  # a working day
    assert keys["read"] not in cookie  # the key's secret never leaves the form
    home = fake_services.config.home / SECRET_FILE
    assert stat.S_IMODE(home.stat().st_mode) == 0o600
    find = browser.get("/find")
    assert find.status_code == 200 and "Signed in with read key" in find.text
    out = browser.post("/sign-out", data={"csrf": csrf_of(find.text)}, follow_redirects=False)
    assert out.status_code == 303
    assert browser.get("/find", follow_redirects=False).headers["location"] == "/?next=/find"


def test_a_wrong_key_is_refused_with_words(browser):
    page = browser.get("/")
    answer = browser.post("/sign-in", data={"csrf": csrf_of(page.text), "key": "mk_nothing_here"})
    assert answer.status_code == 401 and "was not recognised" in answer.text


def test_a_tampered_or_foreign_cookie_is_no_session(browser, keys):
    sign_in(browser, keys["admin"])
    value = browser.cookies[COOKIE]
    body, signature = value.split(".")
    browser.cookies.clear()
    browser.cookies.set(COOKIE, body + "." + signature[::-1])
    assert browser.get("/find", follow_redirects=False).status_code == 303
    browser.cookies.clear()
    browser.cookies.set(COOKIE, value)
    assert browser.get("/find").status_code == 200


def test_forms_without_their_csrf_token_are_refused(browser, keys):
    token = sign_in(browser, keys["owner"])
    for data in ({"use_profile": "on"}, {"use_profile": "on", "csrf": "forged"}):
        answer = browser.post("/find", data=data)
        assert answer.status_code == 403 and "Reload the page" in answer.text
    assert browser.post("/find", data={"use_profile": "on", "csrf": token}).status_code == 200
    assert browser.post("/sign-in", data={"key": keys["admin"]}).status_code == 403  # sign-in forms too


def test_a_revoked_key_signs_its_sessions_out(browser, keys, fake_services):
    sign_in(browser, keys["read"])
    key_id = keys["read"][3:].split("_", 1)[0]
    fake_services.keys.revoke(key_id)
    browser.app.state.web.keys.forget()
    answer = browser.get("/find", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/?ended=1"


# (page, method, allowed scopes): the API's matrix (tests/test_api.py) through the pages
MATRIX = [
    ("/find", "get", {"read", "agency", "admin", "owner"}),
    ("/find", "post", {"read", "agency", "admin", "owner"}),
    ("/profiles", "get", {"read", "agency", "admin"}),  # listing others: not for an owner key
    ("/people?field=profile&profile=Person", "get", {"read", "agency", "admin"}),
    ("/profiles/p002", "get", {"read", "agency", "admin"}),  # an owner key opens only its own
    ("/profiles/p001", "get", {"read", "agency", "admin", "owner"}),
    ("/profiles/p001/data.json", "get", {"read", "agency", "admin", "owner"}),
    ("/profiles/p001/edit", "get", {"admin", "owner"}),
    ("/profiles/p002/edit", "get", {"admin"}),
    ("/profiles/p002/erase", "get", {"admin"}),
    ("/profiles/p001/erase", "post", {"admin", "owner"}),  # without the confirmation: 422, nothing erased
    ("/consortia", "get", {"agency", "admin"}),
    ("/consortia", "post", {"agency", "admin"}),  # an empty call: 422
    ("/consortia/aspect-row?i=4", "get", {"agency", "admin"}),
    ("/office", "get", {"agency", "admin"}),
    ("/office", "post", {"agency", "admin"}),  # no mode chosen: 422
]


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One app and its keys for the whole matrix (its requests change nothing)."""
    services = fake_services_at(tmp_path_factory.mktemp("web-matrix") / "store")
    services.engine.add(small_pool())
    made = {scope: services.keys.create(scope)[1] for scope in ("read", "agency", "admin")}
    made["owner"] = services.keys.create("owner", owner="p001")[1]
    app = create_app(services.config, services=services, api=ApiConfig(rate_limit_per_minute=100_000))
    with TestClient(app) as client:  # the lifespan runs once
        yield client, made
    services.close()


@pytest.mark.parametrize(("path", "method", "allowed"), MATRIX, ids=[f"{m} {p}" for p, m, _ in MATRIX])
@pytest.mark.parametrize("who", ["none", "read", "agency", "admin", "owner"])
def test_access_matrix_through_the_pages(shared, path, method, allowed, who):
    client, keys = shared
    client.cookies.clear()
    token = sign_in(client, keys[who]) if who != "none" else csrf_of(client.get("/").text)
    if method == "get":
        answer = client.get(path, follow_redirects=False)
    else:
        answer = client.post(path, data={"csrf": token, "use_profile": "on", "text": "aquifer"},
                             follow_redirects=False)
    if who == "none":
        assert answer.status_code == 303 and answer.headers["location"].startswith("/?next=")
    elif who in allowed:
        assert answer.status_code in (200, 422), (who, path, answer.status_code)
    else:
        assert answer.status_code == 403, (who, path, answer.status_code)
        assert "key" in answer.text


def cards(html: str) -> list[dict[str, str]]:
    return [{"name": name, "where": where} for name, where in
            re.findall(r"<h3>([^<]+)</h3>\s*<p class=\"where\">([^<]+)</p>", html)]


def test_find_by_idea_by_profile_and_with_a_country_group(browser, keys, fake_services):
    token = sign_in(browser, keys["read"])
    by_idea = browser.post("/find", data={"csrf": token, "text": "groundwater aquifer nitrate transport", "k": "5"})
    assert by_idea.status_code == 200 and len(cards(by_idea.text)) == 5
    assert re.search(r"(Strong|Good|Possible) match", by_idea.text)
    assert "close to your idea" in by_idea.text
    by_profile = browser.post("/find", data={"csrf": token, "profile": "Person 1", "k": "10", "groups": "widening"})
    assert by_profile.status_code == 200
    ids = re.findall(r"Profile id (\w+)", by_profile.text)
    assert ids and "p001" not in ids
    countries = {fake_services.store.get(i).country for i in ids}
    assert countries <= WIDENING and "FR" not in countries  # the group, and never the requester's own country


def test_find_names_the_field_to_change(browser, keys):
    token = sign_in(browser, keys["read"])
    empty = browser.post("/find", data={"csrf": token})
    assert empty.status_code == 422 and "Describe your idea" in empty.text and 'href="#text"' in empty.text
    narnia = browser.post("/find", data={"csrf": token, "text": "aquifer", "countries": "Narnia"})
    assert narnia.status_code == 422 and "“Narnia” is not a country" in narnia.text
    nobody = browser.post("/find", data={"csrf": token, "profile": "Nobody Anywhere"})
    assert nobody.status_code == 422 and "Nobody called" in nobody.text


def test_htmx_gets_only_the_results(browser, keys):
    token = sign_in(browser, keys["owner"])
    part = browser.post("/find", data={"csrf": token, "use_profile": "on", "k": "5"}, headers={"HX-Request": "true"})
    assert part.status_code == 200 and "<html" not in part.text and len(cards(part.text)) == 5


def test_find_downloads_the_list_as_csv(browser, keys):
    token = sign_in(browser, keys["owner"])
    answer = browser.post("/find.csv", data={"csrf": token, "use_profile": "on", "k": "5"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    lines = answer.content.decode("utf-8-sig").strip().splitlines()
    assert lines[0] == "rank,name,country,institution,match,why,note,profile_id" and len(lines) == 6


def test_my_profile_edit_download_and_erase(browser, keys, fake_services):
    token = sign_in(browser, keys["owner"])
    assert browser.get("/me", follow_redirects=False).headers["location"] == "/profiles/p001"
    form = browser.get("/profiles/p001/edit").text
    data = dict(re.findall(r'<input (?:type="hidden" )?(?:id="[^"]+" )?name="([^"]+)" value="([^"]*)"', form))
    data = {k: v for k, v in data.items() if not k.endswith("-remove")}
    data.update({"csrf": token, "name": "Person One", "work-9-title": "Karst aquifer recharge", "gender": "female"})
    saved = browser.post("/profiles/p001/edit", data=data, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    stored = fake_services.store.get("p001")
    assert stored.name == "Person One" and stored.works[-1].title == "Karst aquifer recharge"
    assert stored.private["gender"] == "female"
    bad = browser.post("/profiles/p001/edit", data={**data, "country": "Narnia"})
    assert bad.status_code == 422 and "unknown country" in bad.text and 'aria-invalid="true"' in bad.text
    mine = browser.get("/profiles/p001/data.json")
    assert mine.json()["name"] == "Person One" and mine.json()["gender"] == "female"  # my data, private included
    unconfirmed = browser.post("/profiles/p001/erase", data={"csrf": token})
    assert unconfirmed.status_code == 422 and fake_services.store.exists("p001")
    erased = browser.post("/profiles/p001/erase", data={"csrf": token, "confirm": "on"}, follow_redirects=False)
    assert erased.status_code == 303 and erased.headers["location"] == "/?erased=1"
    assert not fake_services.store.exists("p001")
    assert browser.get("/find", follow_redirects=False).status_code == 303  # signed out: the key went with it


def form_values(html: str) -> dict[str, str]:
    """What a browser submits: every input's value and every select's selected option."""
    values = dict(re.findall(r'<input (?:type="hidden" )?(?:id="[^"]+" )?name="([^"]+)" value="([^"]*)"', html))
    for name, options in re.findall(r'<select id="[^"]+" name="([^"]+)">(.*?)</select>', html, re.S):
        chosen = re.findall(r'<option value="([^"]*)" selected>', options) or re.findall(r'<option value="([^"]*)"',
                                                                                          options)[:1]
        values[name] = chosen[0]
    return {k: v for k, v in values.items() if not k.endswith("-remove")}


def test_an_organisation_keeps_its_role_through_the_edit_form(browser, keys, fake_services):
    from matcher.domain.profiles import parse_profile

    fake_services.engine.add([parse_profile({
        "id": "org-acme", "name": "Acme Hydro", "kind": "organisation", "country": "NL", "role": "PRC", "sme": True,
        "works": [{"title": "groundwater pumps"}]})])
    token = sign_in(browser, keys["admin"])
    assert "Acme Hydro" in browser.get("/profiles/org-acme").text
    assert "company (SME)" in browser.get("/profiles/org-acme").text
    data = form_values(browser.get("/profiles/org-acme/edit").text)
    assert (data["kind"], data["role"], data["sme"]) == ("organisation", "PRC", "true")
    saved = browser.post("/profiles/org-acme/edit", data={**data, "csrf": token, "institution": "Acme"},
                         follow_redirects=False)
    assert saved.status_code == 303, saved.text
    stored = fake_services.store.get("org-acme")
    assert (stored.institution, stored.role, stored.sme) == ("Acme", "PRC", True)  # untouched fields kept
    browser.post("/profiles/org-acme/edit", data={**data, "csrf": token, "role": "REC", "sme": ""})
    stored = fake_services.store.get("org-acme")
    assert (stored.role, stored.sme) == ("REC", None)


def test_private_fields_stay_private_on_the_pages(browser, keys, fake_services):
    sign_in(browser, keys["admin"])
    token = csrf_of(browser.get("/profiles/p002/edit").text)
    form = browser.get("/profiles/p002/edit").text
    data = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', form))
    data = {k: v for k, v in data.items() if not k.endswith("-remove")}
    browser.post("/profiles/p002/edit", data={**data, "csrf": token, "email": "p2@example.org"})
    assert "p2@example.org" in browser.get("/profiles/p002").text
    with TestClient(browser.app) as other:
        sign_in(other, keys["read"])
        assert "p2@example.org" not in other.get("/profiles/p002").text
        assert "p2@example.org" not in other.get("/profiles/p002/data.json").text


CALL = {"call_text": "Groundwater aquifer contamination. Drought tolerant wheat irrigation. Neural network training.",
        "size": "3", "min_countries": "3", "teams": "3", "apart": "on"}


def test_consortium_with_a_widening_quota_and_a_must_include_member(browser, keys, fake_services):
    token = sign_in(browser, keys["agency"])
    answer = browser.post("/consortia", data={**CALL, "csrf": token, "quota-0-group": "widening",
                                              "quota-0-least": "1", "must_include_q": "Person 5"})
    assert answer.status_code == 200, answer.text
    teams = re.findall(r'<section class="team".*?</section>', answer.text, flags=re.S)
    assert len(teams) == 3
    for team in teams:
        assert "Covers 3 of 3 aspects" in team and "Person 5</strong>" in team and "must be in the team" in team
        ids = re.findall(r"<strong>(Person \d+)</strong>", team)
        countries = {fake_services.store.get(f"p{int(n.split()[1]):03d}").country for n in ids}
        assert len(countries) == 3 and countries & WIDENING
        assert "<caption>What each member brings to each aspect" in team
    kept = re.search(r"/consortia/([^/]+)/teams.xlsx", answer.text).group(1)
    for fmt, kind in (("xlsx", "spreadsheetml"), ("csv", "text/csv"), ("json", "application/json")):
        download = browser.get(f"/consortia/{kept}/teams.{fmt}")
        assert download.status_code == 200 and kind in download.headers["content-type"]
    assert len(browser.get(f"/consortia/{kept}/teams.json").json()["teams"]) == 3


def test_consortium_rules_that_cannot_be_met_name_the_rule(browser, keys):
    token = sign_in(browser, keys["agency"])
    too_many = browser.post("/consortia", data={**CALL, "csrf": token, "size": "9", "min_countries": "9"})
    assert too_many.status_code == 422 and 'href="#min_countries"' in too_many.text
    assert "At least 9 countries required" in too_many.text and "Change this rule" in too_many.text
    quota = browser.post("/consortia", data={**CALL, "csrf": token, "quota-0-group": "ots"})
    assert quota.status_code == 422 and "say how many members at least" in quota.text
    empty = browser.post("/consortia", data={"csrf": token, "size": "3"})
    assert empty.status_code == 422 and "Paste the call text, or list the aspects" in empty.text


def test_consortium_downloads_belong_to_their_key_and_honour_erasure(app, keys, fake_services):
    with TestClient(app) as agency, TestClient(app) as admin:
        token = sign_in(agency, keys["agency"])
        answer = agency.post("/consortia", data={**CALL, "csrf": token})
        kept = re.search(r"/consortia/([^/]+)/teams.xlsx", answer.text).group(1)
        sign_in(admin, keys["admin"])
        assert admin.get(f"/consortia/{kept}/teams.csv").status_code == 404  # another key's answer
        member = re.search(r"<strong>(Person \d+)</strong>", answer.text).group(1)
        fake_services.engine.delete(f"p{int(member.split()[1]):03d}")
        assert agency.get(f"/consortia/{kept}/teams.csv").status_code == 410


def pool_file(n: int = 12) -> bytes:
    """`n` applicants in three countries, with a record without works (line 4) and a broken line (7)."""
    lines = [json.dumps({"id": f"up-{i}", "name": f"Applicant {i}", "country": ["TR", "DE", "KE"][i % 3],
                         "works": [{"title": f"groundwater aquifer study {i}", "abstract": "karst nitrate"}]})
             for i in range(n)]
    lines.insert(3, json.dumps({"id": "bad", "name": "No works", "country": "TR"}))
    lines.insert(6, "not json")
    return "\n".join(lines).encode()


def wait_for_job(client: TestClient, path: str) -> str:
    for _ in range(200):
        html = client.get(path).text
        if 'hx-trigger="every 1s"' not in html:
            return html
        time.sleep(0.05)
    raise AssertionError("the job did not finish")


OFFICE = {"mode": "topk", "k": "3", "cross_border": "on", "apart": "on"}


def test_office_upload_progress_report_and_downloads(browser, keys, fake_services):
    token = sign_in(browser, keys["admin"])
    started = browser.post("/office", data={**OFFICE, "csrf": token, "source": "upload", "pool_format": "auto"},
                           files={"pool_file": ("pool.jsonl", pool_file(), "application/octet-stream")},
                           follow_redirects=False)
    assert started.status_code == 303, started.text
    job = started.headers["location"]
    assert fake_services.store.exists("up-11") and not fake_services.store.exists("bad")
    report = wait_for_job(browser, job)
    assert "12 applicants in the pool: 12 new" in report
    assert re.search(r"<td>4</td><td>bad</td><td>works: a profile needs at least one work", report)
    assert "<td>7</td>" in report and "not valid JSON" in report  # each rejected record with its line
    assert "12 applicants matched as each applicant’s best partners: 36 suggestions" in report
    assert "Between countries" in report and "Everyone got what they asked for" in report
    pairs = browser.get(job + "/files/pairs.csv")
    assert pairs.status_code == 200 and len(pairs.text.strip().splitlines()) == 37
    for name in ("unmatched.csv", "report.html", "pairs.parquet", "pairs.xlsx"):
        assert browser.get(f"{job}/files/{name}").status_code == 200
    assert browser.get(job + "/files/result.json").status_code == 404
    assert job.rsplit("/", 1)[1] in browser.get("/office").text  # among my recent jobs


def test_office_fair_spreading_reaches_the_report(browser, keys):
    token = sign_in(browser, keys["admin"])
    form = {**OFFICE, "csrf": token, "source": "upload", "pool_format": "auto", "fair": "on",
            "prefer_countries": "widening, KE"}
    started = browser.post("/office", data=form, files={"pool_file": ("pool.jsonl", pool_file(), "text/plain")},
                           follow_redirects=False)
    assert started.status_code == 303, started.text
    wait_for_job(browser, started.headers["location"])
    report = browser.get(started.headers["location"] + "/files/report.html").text
    assert "Fairness option on" in report and "widening, KE" in report and "id='exposure-countries'" in report
    wrong = browser.post("/office", data={**form, "prefer_countries": "Atlantis"},
                         files={"pool_file": ("pool.jsonl", pool_file(), "text/plain")})
    assert wrong.status_code == 422 and "Atlantis" in wrong.text


def test_office_form_with_a_mapping_and_its_errors(browser, keys):
    token = sign_in(browser, keys["admin"])
    rows = list(csv.reader((ROOT / "data" / "examples" / "registration.csv").open(encoding="utf-8-sig")))
    book = Workbook()
    for row in rows:
        book.active.append(row)
    xlsx = io.BytesIO()
    book.save(xlsx)
    mapping = (ROOT / "data" / "examples" / "registration-map.yaml").read_bytes()
    form = {**OFFICE, "csrf": token, "source": "upload", "pool_format": "form", "mode": "pairs", "capacity": "2"}
    files = {"pool_file": ("form.xlsx", xlsx.getvalue(), "application/octet-stream")}
    missing = browser.post("/office", data=form, files=files)
    assert missing.status_code == 422 and "needs its column mapping" in missing.text
    wrong = browser.post("/office", data=form, files={**files, "mapping_file": ("m.yaml", b"id: Nope\n", "text/yaml")})
    assert wrong.status_code == 422 and "form.xlsx: no column(s)" in wrong.text and "/tmp" not in wrong.text
    started = browser.post("/office", data=form, files={**files, "mapping_file": ("m.yaml", mapping, "text/yaml")},
                           follow_redirects=False)
    assert started.status_code == 303, started.text
    assert "one pairing for everyone" in wait_for_job(browser, started.headers["location"])


def test_office_access_follows_the_api(app, keys):
    with TestClient(app) as agency, TestClient(app) as other:
        token = sign_in(agency, keys["agency"])
        upload = agency.post("/office", data={**OFFICE, "csrf": token, "source": "upload"},
                             files={"pool_file": ("p.jsonl", pool_file(), "application/octet-stream")})
        assert upload.status_code == 422 and "needs an admin key" in upload.text  # uploads store profiles
        sides = agency.post("/office", data={**OFFICE, "csrf": token, "source": "stored", "mode": "bipartite",
                                             "side_a": "TR", "side_b": "TR, DE"})
        assert sides.status_code == 422 and "overlap in TR" in sides.text
        started = agency.post("/office", data={**OFFICE, "csrf": token, "source": "stored", "mode": "bipartite",
                                               "side_a": "TR", "side_b": "DE, FR"}, follow_redirects=False)
        job = started.headers["location"]
        assert "two sides" in wait_for_job(agency, job)
        sign_in(other, keys["read"])
        assert other.get(job).status_code == 403  # no batches for a read key
        other.cookies.clear()
        sign_in(other, keys["admin"])
        assert other.get(job).status_code == 200  # admin keys see every job
        other.cookies.clear()
        sign_in(other, app.state.services.keys.create("agency", label="another agency")[1])
        assert other.get(job).status_code == 404  # another agency key: no such job


def test_solver_reasons_use_the_words_of_the_page():
    from api.web.routes_consortia import _infeasible
    from matcher.assemble.conflicts import ALLOW_CONFLICTS, EXACT_SOLVER
    from matcher.domain.errors import InfeasibleConsortium

    field, message = _infeasible(InfeasibleConsortium(
        "conflicts", f"the greedy found no team: p1 and p2 (co-authors). {ALLOW_CONFLICTS}; or try {EXACT_SOLVER}"))
    assert field == "apart"
    assert "API" not in message and "CLI" not in message and "greedy" not in message
    assert "untick “Keep co-authors" in message and "“Prove the first team is the best possible”" in message
    assert _infeasible(InfeasibleConsortium("group_min widening", "at least 2 members from widening"))[0] == \
        "quota-0-group"


def test_pages_share_the_api_rate_limit_and_queues(fake_services, keys):
    from api.fairness import WorkQueue

    app = create_app(fake_services.config, services=fake_services, api=ApiConfig(rate_limit_per_minute=4))
    with TestClient(app) as client:
        token = sign_in(client, keys["agency"])  # one token: the page after sign-in
        busy = WorkQueue("heavy work", 1, 0)
        app.state.heavy = busy
        with busy.slot():  # the only slot taken, nobody may wait: full
            full = client.post("/consortia", data={**CALL, "csrf": token})
        assert full.status_code == 503 and "Try again in 5 seconds" in full.text
        assert full.headers["retry-after"] == "5"
        answers = [client.get("/find") for _ in range(4)]
        assert answers[-1].status_code == 429 and "Try again in" in answers[-1].text
        assert client.get("/v1/countries/groups", headers={"X-API-Key": keys["agency"]}).status_code == 429


def test_an_uploaded_record_refused_when_stored_stays_out_of_the_pool(fake_services):
    """A person already stored under another id (same ORCID) is rejected by the ingest: the pool of
    the batch is what was stored, and the rejection is listed with the others."""
    from api.web.pool import Upload, store_upload
    from matcher.domain.profiles import parse_profile

    fake_services.engine.add([parse_profile({"id": "kept-1", "name": "Stored", "country": "DE",
                                             "orcid": "0000-0002-1825-0097", "works": [{"title": "karst"}]})])
    same_person = {"id": "again-1", "name": "Stored", "country": "DE", "orcid": "0000-0002-1825-0097",
                   "works": [{"title": "karst aquifer"}]}
    body = pool_file(4) + b"\n" + json.dumps(same_person).encode()
    result = store_upload(fake_services, Upload("pool.jsonl", body, "jsonl"), key_id="k", scope="admin")
    assert "again-1" not in result.ids and {"up-0", "up-1", "up-2", "up-3"} <= set(result.ids)
    assert any(r.record_id == "again-1" and "kept-1" in r.reason for r in result.rejected)
    assert any(r.record_id == "bad" for r in result.rejected)  # the reader's own rejections are kept


def test_find_says_what_kind_of_organisation_a_suggestion_is(browser, keys, fake_services):
    """An organisation's role and SME flag (from its profile, e.g. CORDIS activityType) show on its card."""
    from matcher.domain.profiles import parse_profile

    work = {"title": "groundwater aquifer nitrate transport", "abstract": "aquifer nitrate groundwater"}
    fake_services.engine.add([
        parse_profile({"id": "org-acme", "name": "Acme Hydro", "kind": "organisation", "country": "NL",
                       "role": "PRC", "sme": True, "works": [work]}),
        parse_profile({"id": "org-uni", "name": "Uni Karst", "kind": "organisation", "country": "SI",
                       "role": "HES", "works": [work]}),
    ])
    token = sign_in(browser, keys["read"])
    page = browser.post("/find", data={"csrf": token, "text": "groundwater aquifer nitrate transport", "k": "10",
                                       "kinds": "organisation"})
    where = {card["name"]: card["where"] for card in cards(page.text)}
    assert where["Acme Hydro"].endswith("· company (SME)")
    assert where["Uni Karst"].endswith("· university or school")
