"""Batch results people can act on: names, countries and institutions beside the ids, reasons in
plain words, partnerships counted once, a report that states the run and lists every pairing, and
the same files over HTTP."""

from __future__ import annotations

import csv
import io
import time

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from api.app import create_app
from api.settings import ApiConfig
from matcher.assign.programme import build_request, run_batch
from matcher.assign.rows import PAIR_COLUMNS, PairRow
from matcher.export.page import TOP_COUNTRIES
from matcher.export.report import write_outputs
from matcher.export.results import write_result
from matcher.service.engine import Engine
from matcher.store.keys import KeyStore

NEW_COLUMNS = ("applicant_name", "applicant_country", "applicant_institution", "partner_name", "partner_country",
               "partner_institution")
ALGORITHM_WORDS = ("greedy", "approximation", "min-cost", "flow", "top-k", "swaps")


@pytest.fixture()
def pairs_result(fake_engine: Engine):
    return run_batch(fake_engine.corpus(), build_request("pairs", capacity=2))


def test_pair_rows_name_both_sides_and_say_why_in_plain_words(fake_engine: Engine, pairs_result):
    people = {p.id: p for p in fake_engine.store.profiles()}
    assert pairs_result.pairs
    for row in pairs_result.pairs:
        a, b = people[row.applicant_id], people[row.partner_id]
        assert (row.applicant_name, row.applicant_country, row.applicant_institution) == (a.name, a.country,
                                                                                          a.institution)
        assert (row.partner_name, row.partner_country, row.partner_institution) == (b.name, b.country, b.institution)
        assert row.reason and not any(word in row.reason for word in ALGORITHM_WORDS), row.reason
    assert any("both work on" in r.reason for r in pairs_result.pairs)
    assert any("'" in r.reason and "work" in r.reason for r in pairs_result.pairs)


@pytest.mark.parametrize("mode", ["topk", "bipartite"])
def test_every_mode_says_why_in_plain_words(fake_engine: Engine, mode: str):
    request = build_request(mode, k=2, capacity=1, sides=("TR", "DE,FR") if mode == "bipartite" else ())
    result = run_batch(fake_engine.corpus(), request)
    assert result.pairs and all(r.applicant_name and r.partner_name for r in result.pairs)
    assert not any(word in r.reason for r in result.pairs for word in ALGORITHM_WORDS)


def test_pairs_and_bipartite_count_partnerships_not_rows(fake_engine: Engine, pairs_result):
    partnerships = len({frozenset((r.applicant_id, r.partner_id)) for r in pairs_result.pairs})
    assert len(pairs_result.pairs) == 2 * partnerships
    assert f"{partnerships} partnerships" in pairs_result.summary()
    topk = run_batch(fake_engine.corpus(), build_request("topk", k=2))
    assert f"{len(topk.pairs)} suggestions" in topk.summary()


def test_every_export_carries_names_score_and_reason(pairs_result, tmp_path):
    paths = write_result(pairs_result, tmp_path)
    with paths["pairs.csv"].open(newline="") as fh:
        table = list(csv.DictReader(fh))
    assert tuple(table[0]) == PAIR_COLUMNS and set(NEW_COLUMNS) <= set(table[0])
    first = pairs_result.pairs[0]
    assert table[0]["applicant_name"] == first.applicant_name and table[0]["reason"] == first.reason
    parquet = pq.read_table(paths["pairs.parquet"]).to_pylist()
    assert parquet[0]["partner_institution"] == first.partner_institution and parquet[0]["score"] == first.score
    book = load_workbook(paths["pairs.xlsx"], read_only=True)
    sheet = list(book["pairs"].iter_rows(values_only=True))
    assert sheet[0] == PAIR_COLUMNS and len(sheet) == len(pairs_result.pairs) + 1
    assert sheet[1][PAIR_COLUMNS.index("partner_name")] == first.partner_name
    assert "unmatched" in book.sheetnames


def test_report_states_the_run_and_lists_every_partnership(pairs_result, tmp_path):
    page = write_result(pairs_result, tmp_path)["report.html"].read_text(encoding="utf-8")
    partnerships = len(pairs_result.pairs) // 2
    assert "id='run-details'" in page and "pairs: one pairing of the whole pool" in page
    assert f"<dd>{len(pairs_result.applicants)}</dd>" in page  # the pool size
    assert pairs_result.run["date"][:10] in page and "partners per applicant (capacity)" in page
    assert f"Who meets whom ({partnerships} partnerships)" in page
    assert f"({len(pairs_result.pairs)} rows in pairs.csv, one per side)" in page
    assert "suggested pairs (rows)" not in page
    body = page.split("id='pair-list'")[1].split("</table>")[0]
    assert body.count("<tr>") == partnerships + 1
    assert all(r.applicant_name in page and r.partner_name in page for r in pairs_result.pairs)


def test_bipartite_report_lists_each_partnership_once_first_side_left(fake_engine: Engine, tmp_path):
    result = run_batch(fake_engine.corpus(), build_request("bipartite", capacity=1, sides=("TR", "DE,FR")))
    page = write_result(result, tmp_path)["report.html"].read_text(encoding="utf-8")
    body = page.split("id='pair-list'")[1].split("</table>")[0]
    assert "<th scope='col'>TR</th><th scope='col'>DE,FR</th>" in body
    assert body.count("<tr>") == len(result.pairs) // 2 + 1
    lefts = [row.split("<small>")[1][:2] for row in body.split("<tr>")[2:]]
    assert lefts and set(lefts) == {"TR"}
    assert "<dt>sides</dt><dd>TR and DE,FR</dd>" in page


def test_report_figures_fit_and_are_labelled(tmp_path):
    codes = [f"{chr(65 + i // 26)}{chr(65 + i % 26)}" for i in range(57)]  # 57 countries
    rows = [PairRow(f"{a}-1", f"{b}-1", 0.5 + i / 200, 1, "shared terms", 0.6, "good")
            for i, (a, b) in enumerate(zip(codes, codes[1:] + codes[:1], strict=True))]
    countries = {f"{c}-1": c for c in codes}
    use = {f"{c}-1": (1, 1) for c in codes}
    page = write_outputs(rows, [], countries, use, tmp_path, run={"mode": "topk"})["report.html"].read_text()
    matrix = page.split("id='country-matrix'")[1].split("</table>")[0]
    header = matrix.split("</tr>")[0]
    assert header.count("</th>") == TOP_COUNTRIES + 2 and ">others</th>" in header  # corner, top countries, others
    assert "class='scroll'" in page and "position:sticky" in page
    histogram = page.split("id='score-histogram'")[1].split("</table>")[0]
    assert "score (cosine of the two profiles)" in histogram and "<th scope='col'>suggestions</th>" in histogram
    assert "<svg" not in page and "#b2182b" not in page  # plain HTML bars, no alarm red for full capacity


def test_a_name_that_looks_like_a_formula_stays_text_in_the_workbook(tmp_path):
    rows = [PairRow("a", "b", 0.7, 1, "why", 0.8, "strong", applicant_name="=HYPERLINK(\"x\")",
                    partner_institution="-1 Institute")]
    book = load_workbook(write_outputs(rows, [], {}, {}, tmp_path)["pairs.xlsx"])
    cells = {c.value: c.data_type for c in book["pairs"][2]}
    assert cells['=HYPERLINK("x")'] == "s" and cells["-1 Institute"] == "s"


def test_old_results_without_names_still_render(tmp_path):
    rows = [PairRow("a", "b", 0.7, 1, "global pairing (greedy 1/2-approximation + swaps)", 0.8, "strong")]
    page = write_outputs(rows, [], {"a": "TR", "b": "DE"}, {}, tmp_path)["report.html"].read_text()
    assert "id='pair-list'" in page and ">a<br>" in page


def test_result_in_every_format_over_http(fake_engine: Engine, fake_services):
    agency = KeyStore(fake_engine.store).create("agency")[1]
    app = create_app(fake_engine.config, services=fake_services, api=ApiConfig(rate_limit_per_minute=10_000))
    with TestClient(app, headers={"X-API-Key": agency}) as c:
        job = c.post("/v1/batches", json={"mode": "pairs", "capacity": 2}).json()["id"]
        for _ in range(400):
            if c.get(f"/v1/batches/{job}").json()["status"] in ("done", "failed"):
                break
            time.sleep(0.05)
        url = f"/v1/batches/{job}/result"
        data = c.get(url).json()
        assert set(data) == {"mode", "summary", "pairs", "unmatched", "run", "exposure"}
        assert data["pairs"][0]["applicant_name"]
        assert "partnerships" in data["summary"]
        expected = {
            "csv": ("text/csv", "pairs.csv"),
            "parquet": ("application/vnd.apache.parquet", "pairs.parquet"),
            "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "pairs.xlsx"),
            "html": ("text/html", "report.html"),
        }
        for fmt, (media, name) in expected.items():
            got = c.get(url, params={"format": fmt})
            assert got.status_code == 200, (fmt, got.text)
            assert got.headers["content-type"].startswith(media) and f'filename="{name}"' in \
                got.headers["content-disposition"]
        assert pq.read_table(io.BytesIO(c.get(url, params={"format": "parquet"}).content)).num_rows == len(
            data["pairs"])
        assert "id='pair-list'" in c.get(url, params={"format": "html"}).text
        assert c.get(url, params={"format": "pdf"}).status_code == 422
