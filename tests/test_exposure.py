"""Fair exposure in batch top-k: the capped allocation, the Gini, and the option through CLI, API and report."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from matcher.assign.exposure import exposure_cap, exposure_summary, fair_topk, gini
from matcher.assign.programme import build_request, run_batch
from matcher.assign.topk import topk_pairs
from matcher.domain.errors import InvalidQuery

from .test_batch import pool


def test_gini_of_known_distributions():
    assert gini([3, 3, 3]) == pytest.approx(0.0)
    assert gini([0, 0, 3]) == pytest.approx(2 / 3)
    assert gini([]) == 0.0 and gini([0, 0]) == 0.0
    assert gini([1, 2, 3, 4]) == pytest.approx(0.25)


def test_a_cap_bounds_exposure_and_keeps_every_list_full():
    x, countries = pool(300, d=16, seed=3)
    hub = x.mean(axis=0) / np.linalg.norm(x.mean(axis=0))
    x[:5] = 0.3 * x[:5] + hub  # five "stars" near everyone
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    k = 5
    plain, plain_scores = topk_pairs(x, k, countries=countries)
    wide, wide_scores = topk_pairs(x, 4 * k, countries=countries)
    cap = exposure_cap(300, 300, k)
    fair, fair_scores = fair_topk(wide, wide_scores, k, cap=cap)
    assert fair.shape == (300, k) and (fair >= 0).all()
    assert all(len(set(row)) == k for row in fair.tolist())  # no partner twice in one list
    for row, cols in enumerate(fair):  # every partner comes from the row's own candidates, with its true score
        assert set(cols) <= set(wide[row])
        assert np.allclose(fair_scores[row], [wide_scores[row][list(wide[row]).index(c)] for c in cols])
        assert (np.diff(fair_scores[row]) <= 1e-7).all()  # best first
    plain_exposure = np.bincount(plain.reshape(-1), minlength=300)
    fair_exposure = np.bincount(fair.reshape(-1), minlength=300)
    assert plain_exposure.max() > cap >= fair_exposure.max()
    assert gini(fair_exposure) < gini(plain_exposure)
    assert fair_scores.mean() > 0.9 * plain_scores.mean()


def test_a_generous_cap_gives_plain_top_k():
    x, countries = pool(80, seed=4)
    plain, plain_scores = topk_pairs(x, 3, countries=countries)
    wide, wide_scores = topk_pairs(x, 12, countries=countries)
    fair, fair_scores = fair_topk(wide, wide_scores, 3, cap=10_000)
    assert np.array_equal(fair, plain) and np.allclose(fair_scores, plain_scores)


def test_a_country_bonus_moves_suggestions_there_but_scores_stay_plain():
    x, countries = pool(200, seed=5, alphabet="ABCDEFGH")
    wide, wide_scores = topk_pairs(x, 20, countries=countries)
    bonus = np.where(countries == "H", 0.2, 0.0)
    fair, fair_scores = fair_topk(wide, wide_scores, 5, cap=10_000, bonus=bonus)
    plain, _ = fair_topk(wide, wide_scores, 5, cap=10_000)
    assert (countries[fair] == "H").sum() > (countries[plain] == "H").sum()
    for row, cols in enumerate(fair):
        assert np.allclose(fair_scores[row], [float(x[row] @ x[c]) for c in cols], atol=1e-5)


def test_exposure_summary_counts_zeros_and_country_shares():
    countries = {"a": "DE", "b": "DE", "c": "TR", "d": "KE"}
    summary = exposure_summary(["a", "a", "a", "c"], countries)
    assert summary["suggestions"] == 4 and summary["most_suggested"] == 3 and summary["never_suggested"] == 2
    assert summary["gini"] == pytest.approx(gini([3, 0, 1, 0]))
    assert summary["widening"] == {"pool_share": 0.25, "suggestion_share": 0.25}  # TR
    assert summary["low_income"] == {"pool_share": 0.25, "suggestion_share": 0.0}  # KE
    assert summary["countries"][0] == {"country": "DE", "applicants": 2, "pool_share": 0.5, "suggestions": 3,
                                       "suggestion_share": 0.75}


def test_the_option_belongs_to_topk_and_checks_its_values():
    with pytest.raises(InvalidQuery, match="topk"):
        build_request("pairs", fair=True)
    with pytest.raises(InvalidQuery, match="names no country"):
        build_request("topk", prefer_countries=("",))
    request = build_request("topk", prefer_countries=("widening",))
    assert request.fair is not None and "TR" in request.fair.prefer_countries  # preferring implies the option


@pytest.mark.integration
def test_fair_batch_on_the_demo_pool_spreads_exposure_at_little_cost(demo_engine, tmp_path):
    """The real demo pool (shipped vectors of the packaged model): a third less Gini, under 5% relevance lost."""
    corpus = demo_engine.corpus()
    plain = run_batch(corpus, build_request("topk", k=5))
    fair = run_batch(corpus, build_request("topk", k=5, fair=True))

    def measure(result):
        ex = exposure_summary((p.partner_id for p in result.pairs), result.countries)
        return ex["gini"], float(np.mean([p.score for p in result.pairs]))

    (g_plain, rel_plain), (g_fair, rel_fair) = measure(plain), measure(fair)
    assert g_fair <= (2 / 3) * g_plain
    assert rel_fair >= 0.95 * rel_plain
    assert len(fair.pairs) == len(plain.pairs)  # nobody's list got shorter
    assert fair.run["fair"]["cap"] == exposure_cap(len(fair.applicants), len(fair.applicants), 5)


@pytest.mark.integration
def test_fair_batch_through_the_cli_reports_exposure_per_country(demo_services, tmp_path, monkeypatch):
    from matcher.cli import app

    monkeypatch.setenv("MATCHER_HOME", str(demo_services.config.home))
    out = tmp_path / "fair"
    result = CliRunner().invoke(app, ["batch", "--mode", "topk", "--k", "3", "--fair", "--prefer-countries",
                                      "widening,low-income", "--out", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads((out / "result.json").read_text())
    assert data["run"]["fair"]["prefer_countries"] == ["widening,low-income"]
    page = (out / "report.html").read_text()
    assert "Fairness option on" in page and "id='exposure-countries'" in page
    assert "<th scope='row'>TR</th>" in page  # a widening country's row in the per-country table
    wrong = CliRunner().invoke(app, ["batch", "--mode", "pairs", "--fair", "--out", str(tmp_path / "x")])
    assert wrong.exit_code == 1 and "applies to the topk mode" in wrong.output
    pairs = CliRunner().invoke(app, ["batch", "--mode", "pairs", "--capacity", "1", "--out", str(tmp_path / "p")])
    assert pairs.exit_code == 0, pairs.output
    page = (tmp_path / "p" / "report.html").read_text()  # no hint to an option pairs do not have
    assert "at most their capacity times" in page and "--fair spreads" not in page


def test_fair_batch_through_the_api(fake_services):
    from api.app import create_app
    from api.settings import ApiConfig
    from matcher.store.keys import KeyStore

    keys = {"agency": KeyStore(fake_services.store).create("agency")[1]}
    app = create_app(fake_services.engine.config, services=fake_services,
                     api=ApiConfig(rate_limit_per_minute=10_000))
    headers = {"X-API-Key": keys["agency"]}
    with TestClient(app) as c:
        refused = c.post("/v1/batches", json={"mode": "pairs", "fair": True}, headers=headers)
        assert refused.status_code == 422 and "topk" in refused.text
        job = c.post("/v1/batches", json={"mode": "topk", "k": 2, "fair": True, "exposure_cap": 2,
                                          "prefer_countries": ["widening"]}, headers=headers).json()
        for _ in range(400):
            status = c.get(f"/v1/batches/{job['id']}", headers=headers).json()["status"]
            if status in ("done", "failed"):
                break
            time.sleep(0.05)
        assert status == "done"
        data = c.get(f"/v1/batches/{job['id']}/result", headers=headers).json()
        assert data["run"]["fair"] == {"cap": 2, "prefer_countries": ["widening"], "prefer_weight": 0.05}
        assert data["exposure"]["suggestions"] == len(data["pairs"]) and 0 <= data["exposure"]["gini"] <= 1
        report = c.get(f"/v1/batches/{job['id']}/result?format=html", headers=headers).text
        assert "at most 2 suggestions per person" in report


def test_the_fairness_option_reaches_a_worker_intact():
    """On a shared store a worker process runs the batch from its JSON plan."""
    from matcher.service.batches import plan_from_json, plan_to_json

    request = build_request("topk", k=4, exposure_cap=3, prefer_countries=("widening", "KE"), prefer_weight=0.1)
    assert plan_from_json(plan_to_json(request)) == request
    plain = build_request("topk", k=4)
    assert plan_from_json(plan_to_json(plain)) == plain
