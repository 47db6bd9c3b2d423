"""The batch report of a demo `pairs` run, opened from disk in a real browser (Chromium driven by
Playwright): the run details and every partnership with both names are on the page, readable
without script; with script the list is searchable and sortable. A screenshot goes to
build/report-screenshots/ for a reviewer. Skipped, with the reason, when Playwright or
/usr/bin/chromium is missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from matcher.assign.programme import BatchResult, build_request, run_batch
from matcher.export.results import write_result
from matcher.service.engine import Engine

from .conftest import ROOT

try:
    from playwright.sync_api import Browser, Page, expect, sync_playwright
except ImportError:  # pragma: no cover - the test extras install it
    sync_playwright = None

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
SHOTS = ROOT / "build" / "report-screenshots"

pytestmark = [
    pytest.mark.skipif(sync_playwright is None, reason="Playwright for Python is missing (pip install -e '.[test]')"),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium (apt-get install -y chromium)"),
]


@pytest.fixture(scope="module")
def demo_pairs(demo_engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> tuple[BatchResult, Path]:
    result = run_batch(demo_engine.corpus(), build_request("pairs", capacity=2))
    folder = tmp_path_factory.mktemp("demo-pairs")
    return result, write_result(result, folder)["report.html"]


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


def _open(chromium: Browser, report: Path, *, script: bool) -> Page:
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, java_script_enabled=script)
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.goto(report.as_uri())
    return page


def test_report_shows_the_run_and_who_meets_whom(chromium: Browser, demo_pairs) -> None:
    result, report = demo_pairs
    page = _open(chromium, report, script=False)
    try:
        run = page.locator("#run-details")
        expect(run).to_contain_text("pairs: one pairing of the whole pool")
        expect(run).to_contain_text(str(len(result.applicants)))
        expect(run).to_contain_text(result.run["date"])
        partnerships = len({frozenset((p.applicant_id, p.partner_id)) for p in result.pairs})
        expect(page.get_by_role("heading", name=f"Who meets whom ({partnerships} partnerships)")).to_be_visible()
        rows = page.locator("#pair-list tbody tr")
        expect(rows).to_have_count(partnerships)
        first = result.pairs[0]
        expect(rows.first).to_contain_text(first.applicant_name)
        expect(rows.first).to_contain_text(first.partner_name)
        expect(rows.first).to_contain_text(first.applicant_institution)
        expect(rows.first).to_contain_text(first.reason)
        assert "greedy" not in page.content()
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "demo-pairs-report.png"), full_page=False)
        assert (SHOTS / "demo-pairs-report.png").stat().st_size > 0
    finally:
        page.context.close()


def test_pair_list_is_searchable_and_sortable(chromium: Browser, demo_pairs) -> None:
    result, report = demo_pairs
    page = _open(chromium, report, script=True)
    try:
        rows = page.locator("#pair-list tbody tr")
        total = rows.count()
        name = result.pairs[0].applicant_name
        page.get_by_label("Search the pairings").fill(name)
        visible = page.locator("#pair-list tbody tr:visible")
        expect(visible.first).to_contain_text(name)
        assert 0 < visible.count() < total
        page.get_by_label("Search the pairings").fill("")
        expect(page.locator("#pair-list tbody tr:visible")).to_have_count(total)
        page.get_by_role("button", name="score").click()
        scores = [float(s) for s in page.locator("#pair-list tbody td.n").all_inner_texts()]
        assert scores == sorted(scores)
        page.screenshot(path=str(SHOTS / "demo-pairs-report-sorted.png"), full_page=False)
    finally:
        page.context.close()
