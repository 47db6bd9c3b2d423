"""The web pages in a real browser: Chromium driven by Playwright, against a real server on
127.0.0.1 (uvicorn in a thread, over a store with a small pool and the fake embedder).

Each page is checked with axe-core (no serious or critical issue) and photographed at 1280 and
390 px wide into build/web-screenshots/ for a reviewer. Skipped, with the reason, when Playwright
or /usr/bin/chromium is missing; CI installs both (.ci/run).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.app import create_app
from api.settings import ApiConfig
from matcher.domain.countries import country_name, expand_countries
from matcher.service import batches
from matcher.testing import free_port

from .conftest import ROOT, fake_services_at, small_pool

try:
    from playwright.sync_api import Browser, Page, expect, sync_playwright
except ImportError:  # pragma: no cover - the test extras install it
    sync_playwright = None

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
AXE = ROOT / "api" / "web" / "static" / "vendor" / "axe.min.js"
SHOTS = ROOT / "build" / "web-screenshots"

pytestmark = [
    pytest.mark.skipif(sync_playwright is None, reason="Playwright for Python is missing (pip install -e '.[test]')"),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium (apt-get install -y chromium)"),
]


class Server:
    """The app served by uvicorn on a free port, in a thread."""

    def __init__(self, app: Any):
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, name="web-test-server", daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[dict[str, Any]]:
    services = fake_services_at(tmp_path_factory.mktemp("web-browser") / "store")
    services.engine.add(small_pool())
    keys = {scope: services.keys.create(scope, label=f"{scope} key")[1] for scope in ("read", "agency", "admin")}
    keys["owner"] = services.keys.create("owner", owner="p001", label="Person 1")[1]
    keys["erasable"] = services.keys.create("owner", owner="p003", label="Person 3")[1]
    app = create_app(services.config, services=services, api=ApiConfig(rate_limit_per_minute=100_000))
    with Server(app) as server:
        yield {"url": server.url, "keys": keys, "services": services}
    services.close()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


@pytest.fixture()
def page(chromium: Browser) -> Iterator[Page]:
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)  # to inject axe
    context.set_default_timeout(20_000)
    tab = context.new_page()
    yield tab
    context.close()


def sign_in(page: Page, site: dict[str, Any], who: str) -> None:
    page.goto(site["url"] + "/")
    page.get_by_label("Your access key").fill(site["keys"][who])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Find partners abroad")


def check_page(page: Page, name: str) -> None:
    """No serious or critical accessibility issue (axe-core); screenshots at 1280 and 390 px."""
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    bad = [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
           for v in found if v["impact"] in ("serious", "critical")]
    assert not bad, f"{name}: " + "; ".join(bad)
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        if width == 390:  # nothing may stick out sideways on a phone
            assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1, f"{name} is wider than 390 px"
        page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def test_sign_in_and_out(page, site):
    page.goto(site["url"] + "/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    check_page(page, "sign-in")
    page.get_by_label("Your access key").fill("mk_not_a_key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("was not recognised")
    sign_in(page, site, "read")
    expect(page.get_by_text("Signed in with read key")).to_be_visible()
    cookie = next(c for c in page.context.cookies() if c["name"] == "matcher_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["expires"] > time.time()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_have_text("You have signed out.")
    page.goto(site["url"] + "/find")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_scientist_search_by_idea_updates_the_results_in_place(page, site):
    sign_in(page, site, "read")
    check_page(page, "find")
    page.get_by_label("Your idea").fill("groundwater aquifer nitrate transport in karst")
    page.get_by_label("How many").select_option("5")
    page.get_by_role("button", name="Find partners").click()
    cards = page.locator("#results li.card")
    expect(cards).to_have_count(5)
    assert page.url.endswith("/find")  # htmx swapped the results in: no new page
    expect(cards.first).to_contain_text(re.compile(r"(Strong|Good|Possible) match"))
    expect(cards.first).to_contain_text("close to your idea")
    check_page(page, "find-results")
    with page.expect_download() as download:
        page.get_by_role("button", name=re.compile("Download these")).click()
    assert download.value.suggested_filename == "partners.csv"


def test_scientist_search_by_my_profile_with_a_country_group(page, site):
    sign_in(page, site, "owner")
    expect(page.get_by_label("Use my profile")).to_be_checked()
    page.get_by_label("Horizon Europe widening countries").check()
    page.get_by_role("button", name="Find partners").click()
    cards = page.locator("#results li.card")
    expect(cards.first).to_be_visible()
    widening = {country_name(c) for c in expand_countries(["widening"])}
    places = [p.split(" · ")[0] for p in cards.locator("p.where").all_inner_texts()]
    assert places and set(places) <= widening and "France" not in places  # the group; never my own country


def test_a_picker_finds_people_as_one_types(page, site):
    sign_in(page, site, "admin")
    page.get_by_label("A profile (optional)").press_sequentially("Person 1", delay=30)
    choice = page.get_by_role("button", name=re.compile(r"^Choose Person 1 "))
    choice.click()
    expect(page.get_by_label("A profile (optional)")).to_have_value("p001")
    page.get_by_role("button", name="Find partners").click()
    expect(page.locator("#results li.card").first).to_be_visible()
    expect(page.locator("#results")).not_to_contain_text("Profile id p001")


def test_editing_and_erasing_my_own_profile(page, site):
    sign_in(page, site, "erasable")
    page.get_by_role("link", name="My profile").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("(your profile)")
    check_page(page, "my-profile")
    page.get_by_role("link", name=re.compile("Change your profile")).click()
    check_page(page, "my-profile-edit")
    page.get_by_label("Name").fill("Person Three")
    page.get_by_label("Title").last.fill("Karst spring monitoring with low-cost sensors")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("status")).to_contain_text("Your changes are saved")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Person Three")
    expect(page.get_by_text("Karst spring monitoring with low-cost sensors")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("Download your data")).click()
    assert download.value.suggested_filename == "profile-p003.json"
    page.get_by_role("link", name=re.compile("Erase your profile")).click()
    check_page(page, "my-profile-erase")
    page.get_by_role("button", name="Erase the profile").click()
    expect(page.get_by_role("alert")).to_contain_text("Tick the box")
    page.get_by_label(re.compile("I understand")).check()
    page.get_by_role("button", name="Erase the profile").click()
    expect(page.get_by_role("status")).to_contain_text("Your profile has been erased")
    assert not site["services"].store.exists("p003")


def test_a_form_without_its_csrf_token_is_refused(page, site):
    sign_in(page, site, "read")
    page.get_by_label("Your idea").fill("aquifer")
    page.evaluate("document.querySelector('#find input[name=csrf]').remove()")
    page.evaluate("document.querySelector('#find').removeAttribute('hx-post')")  # a plain post, as a forged form
    page.evaluate("htmx.process(document.body)")
    page.locator("#find").evaluate("form => form.submit()")
    expect(page.get_by_role("heading", level=1)).to_have_text("This form cannot be accepted")
    expect(page.get_by_text("Reload the page")).to_be_visible()


def test_the_core_flows_work_with_javascript_off(chromium, site):
    context = chromium.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        sign_in(page, site, "read")
        page.get_by_label("Your idea").fill("neural network training")
        page.get_by_role("button", name="Find partners").click()
        expect(page.locator("#results li.card")).to_have_count(10)
        page.get_by_label("A profile (optional)").fill("Person 2")  # typed in full: no list to choose from
        page.get_by_label("Your idea").fill("")
        page.get_by_role("button", name="Find partners").click()
        expect(page.locator("#results li.card").first).to_be_visible()
        expect(page.locator("#results")).not_to_contain_text("Profile id p002")
        page.get_by_role("button", name="Sign out").click()
        sign_in(page, site, "agency")
        page.goto(site["url"] + "/consortia")
        page.get_by_label("The call text").fill("Groundwater aquifer contamination. Neural network training.")
        page.get_by_label("Team size").fill("3")
        page.get_by_label("Members the teams must include").fill("Person 6")  # typed in full, resolved on send
        page.get_by_role("button", name="Build the teams").click()
        expect(page.locator("section.team")).to_have_count(3)
        expect(page.locator("section.team").first).to_contain_text("must be in the team")
        expect(page.get_by_role("checkbox", name=re.compile("Person 6"))).to_be_checked()  # kept for the next try
    finally:
        context.close()


def test_a_consortium_with_a_widening_quota_and_a_must_include_member(page, site):
    sign_in(page, site, "agency")
    page.get_by_role("link", name="Build a consortium").click()
    check_page(page, "consortium")
    page.get_by_label("The call text").fill(
        "Groundwater aquifer contamination. Drought tolerant wheat irrigation. Neural network training.")
    page.get_by_label("Team size").fill("3")
    page.get_by_label("Countries, at least").fill("3")
    page.get_by_label("Group 1").select_option("widening")
    page.locator("#quota-0-least").fill("1")
    page.get_by_label("Members the teams must include").press_sequentially("Person 5", delay=30)
    page.get_by_role("button", name=re.compile(r"^Add Person 5 ")).click()
    expect(page.get_by_role("checkbox", name=re.compile("Person 5"))).to_be_checked()
    page.get_by_role("button", name="Build the teams").click()
    teams = page.locator("section.team")
    expect(teams).to_have_count(3, timeout=60_000)
    widening = {country_name(c) for c in expand_countries(["widening"])}
    for team in teams.all():
        expect(team).to_contain_text("Person 5")
        expect(team).to_contain_text("must be in the team")
        expect(team.get_by_role("table")).to_be_visible()
        listed = team.locator("p", has_text="Countries:").inner_text().removeprefix("Countries: ").split(", ")
        assert len(listed) == 3 and set(listed) & widening
    check_page(page, "consortium-teams")
    with page.expect_download() as download:
        page.get_by_role("link", name="spreadsheet (XLSX)").click()
    assert download.value.suggested_filename == "teams.xlsx"


def test_a_read_key_is_refused_the_agency_pages(page, site):
    sign_in(page, site, "read")
    expect(page.get_by_role("link", name="Build a consortium")).to_have_count(0)
    for path in ("/consortia", "/office"):
        page.goto(site["url"] + path)
        expect(page.get_by_role("heading", level=1)).to_have_text("This page needs another kind of key")
        expect(page.get_by_text("needs an agency key")).to_be_visible()
    check_page(page, "refused")


def pool_file(tmp_path: Path) -> Path:
    """Twelve applicants in three countries, a record without works (line 4), a broken line (7)."""
    lines = [json.dumps({"id": f"up-{i}", "name": f"Applicant {i}", "country": ["TR", "DE", "KE"][i % 3],
                         "works": [{"title": f"groundwater aquifer study {i}", "abstract": "karst nitrate"}]})
             for i in range(12)]
    lines.insert(3, json.dumps({"id": "bad", "name": "No works", "country": "TR"}))
    lines.insert(6, "not json")
    path = tmp_path / "applicants.jsonl"
    path.write_text("\n".join(lines))
    return path


def test_a_programme_office_upload_progress_report_and_download(page, site, tmp_path, monkeypatch):
    release = threading.Event()
    real = batches.run_batch

    def held(corpus, request, progress=None):  # the job waits, a quarter done, until the test lets it go
        progress(1, 4)
        release.wait(30)
        return real(corpus, request, progress)

    monkeypatch.setattr(batches, "run_batch", held)
    try:
        run_the_office_flow(page, site, tmp_path, release)
    finally:
        release.set()


def run_the_office_flow(page: Page, site: dict[str, Any], tmp_path: Path, release: threading.Event) -> None:
    sign_in(page, site, "admin")
    page.get_by_role("link", name="Match a whole pool").click()
    check_page(page, "office")
    page.get_by_label("The file", exact=True).set_input_files(str(pool_file(tmp_path)))
    page.get_by_label("Partners per applicant").fill("3")
    page.get_by_role("button", name="Start matching").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Matching job")
    expect(page.get_by_role("heading", name="Matching", exact=True)).to_be_visible()
    expect(page.get_by_text("25% done")).to_be_visible()
    rejected = page.get_by_role("region", name="Rejected records")
    expect(rejected.get_by_role("row")).to_have_count(3)
    expect(rejected.get_by_role("row").nth(1)).to_contain_text("4")
    expect(rejected.get_by_role("row").nth(1)).to_contain_text("a profile needs at least one work")
    expect(rejected.get_by_role("row").nth(2)).to_contain_text("not valid JSON")
    check_page(page, "office-job-running")
    url = page.url
    release.set()
    expect(page.get_by_role("heading", name="Done")).to_be_visible(timeout=30_000)  # htmx polled it
    assert page.url == url
    expect(page.get_by_text("12 applicants matched as each applicant’s best partners")).to_be_visible()
    expect(page.get_by_role("region", name="Suggestions between countries")).to_be_visible()
    expect(page.get_by_role("region", name="Pairs").get_by_role("row")).to_have_count(37)
    check_page(page, "office-job-report")
    with page.expect_download() as download:
        page.get_by_role("link", name="pairs (CSV)").click()
    assert download.value.suggested_filename == "pairs.csv"
    assert len(Path(download.value.path()).read_text().strip().splitlines()) == 37


FOCUS_SHOWN = """() => { const s = getComputedStyle(document.activeElement);
  return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2 || s.boxShadow !== 'none'; }"""


def tab_to(page: Page, selector: str, limit: int = 60) -> None:
    """Press Tab until `selector` has the focus, checking that every stop shows it."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        assert page.evaluate(FOCUS_SHOWN), f"no visible focus on {page.evaluate('document.activeElement.outerHTML')}"
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} is not reachable with the keyboard")


def test_keyboard_only(page, site):
    page.goto(site["url"] + "/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to the content"
    tab_to(page, "#key")
    page.keyboard.type(site["keys"]["read"])
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Find partners abroad")
    tab_to(page, "#text")
    page.keyboard.type("neural network training")
    tab_to(page, "#find-submit")
    page.keyboard.press("Enter")
    expect(page.locator("#results li.card")).to_have_count(10)


def test_profiles_and_an_error_summary(page, site):
    sign_in(page, site, "admin")
    page.get_by_role("button", name="Find partners").click()
    expect(page.get_by_role("alert")).to_contain_text("Describe your idea")
    check_page(page, "find-error")
    page.get_by_role("link", name="Profiles").click()
    page.get_by_label("Find a profile by name or id").press_sequentially("Person 4", delay=30)
    expect(page.get_by_role("link", name="Person 4", exact=True)).to_be_visible()
    check_page(page, "profiles")
    page.get_by_role("link", name="Person 4", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Person 4")
    check_page(page, "profile")
