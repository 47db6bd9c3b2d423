"""The real packaged model, the real store and the shipped demo pool."""

from __future__ import annotations

import json

import numpy as np
import pytest

from matcher.demo import shipped as demo_store
from matcher.embed.sentence import SentenceTransformerEmbedder
from matcher.index.corpus import corpus_texts
from matcher.ingest.readers import read_profiles
from matcher.service.engine import Engine, MatchRequest

pytestmark = pytest.mark.integration

TRUTH = json.loads((demo_store.DEMO_DIR / "truth.json").read_text())


def fields(profile_id: str) -> set[str]:
    return set(TRUTH[profile_id]["fields"])


@pytest.fixture(scope="module")
def model(demo_engine: Engine) -> SentenceTransformerEmbedder:
    return demo_engine.embedder.embedder  # type: ignore[return-value]


def test_model_is_offline_normalised_and_384_wide(model):
    vectors = model.embed(["groundwater in karst aquifers", "deep learning"])
    assert vectors.shape == (2, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_long_texts_are_chunked_not_cut(model):
    head = "Groundwater contamination by nitrate in karst aquifers of the Mediterranean basin. " * 20
    tail = "Quantum error correction with superconducting qubits and surface codes. " * 20
    assert model.count_tokens(head) > 256
    whole, only_head = model.embed([head + tail, head])
    assert float(whole @ only_head) < 0.95  # the tail counted: a cut text would equal the head


def test_shipped_demo_vectors_are_this_models_whatever_kernel_made_them(model):
    """The shipped int8 vectors were made on another CPU's int8 kernel: they agree with this
    model's fp32 vectors, and with this machine's int8 ones, as closely as int8 ever does."""
    profiles = [p for _, p in read_profiles(demo_store.DEMO_DIR / "profiles.jsonl").profiles]
    texts = corpus_texts(profiles)
    with np.load(demo_store.DEMO_DIR / "vectors.npz", allow_pickle=False) as shipped:
        assert len(shipped["vectors"]) == len(texts) and str(shipped["model_id"]) == model.model_id
        sample = np.random.default_rng(3).choice(len(texts), 24, replace=False)
        stored = shipped["vectors"][sample].astype(np.float32)
    stored /= np.linalg.norm(stored, axis=1, keepdims=True)
    chosen = [texts[i] for i in sample]
    fp32 = SentenceTransformerEmbedder(backend="torch").embed(chosen)
    here = model.embed(chosen)
    assert np.sum(fp32 * stored, axis=1).mean() > 0.99 and np.sum(fp32 * here, axis=1).mean() > 0.99
    assert np.sum(here * stored, axis=1).min() > 0.97


def test_text_query_finds_the_planted_field(demo_engine):
    out = demo_engine.match(MatchRequest(text="groundwater contamination modelling in transboundary aquifers", k=10))
    assert len(out) == 10
    hydrology = [s for s in out if any("hydro" in f or "water" in f for f in fields(s.id))]
    assert len(hydrology) >= 8, [(s.id, fields(s.id)) for s in out]


def test_profile_query_recovers_planted_neighbours(demo_engine):
    corpus = demo_engine.corpus()
    requesters = [corpus.ids[i] for i in np.random.default_rng(5).choice(len(corpus), 40, replace=False)]
    shared = []
    for me in requesters:
        out = demo_engine.match(MatchRequest(profile_id=me, k=10))
        assert len(out) == 10 and me not in {s.id for s in out}
        mine = demo_engine.store.get(me).country
        assert mine not in {s.country for s in out}
        shared.append(np.mean([bool(fields(s.id) & fields(me)) for s in out]))
    assert np.mean(shared) >= 0.8


def test_profile_and_text_together_add_what_the_requester_lacks(demo_engine):
    me = next(pid for pid, t in TRUTH.items() if set(t["fields"]) == {"machine_learning"})
    out = demo_engine.match(MatchRequest(profile_id=me, text="drought tolerant crops and irrigation", k=10))
    assert len(out) == 10
    assert any(a.complements for s in out for a in s.explanation.aspects)


CLIMATE_CALL = (
    "Climate adaptation of agriculture in a warming world. Develop drought-tolerant crop varieties and irrigation "
    "strategies for smallholder farms. Model crop yields under future climate scenarios. Assess soil health and "
    "carbon sequestration in farmland. Strengthen food security through early warning systems for droughts."
)


def _check_teams(body: dict, must: str) -> None:
    assert len(body["aspects"]) == 5
    assert len(body["teams"]) == 3
    assert len({frozenset(m["id"] for m in t["members"]) for t in body["teams"]}) == 3
    for team in body["teams"]:
        countries = [m["country"] for m in team["members"]]
        assert len(countries) == 5 and len(set(countries)) == 5  # max 1 per country, so >= 4 countries
        assert must in {m["id"] for m in team["members"]}
        assert all({"id", "name", "country", "explanation"} <= m.keys() for m in team["members"])
        assert len(team["coverage"]) == 5 and isinstance(team["gaps"], list) and team["score"] > 0


def test_consortium_acceptance_cli_and_api(demo_engine, demo_services):
    from fastapi.testclient import TestClient

    from api.app import create_app

    from .test_cli import matcher

    result = matcher(demo_engine.store.home, "consortium", "--call-text", CLIMATE_CALL, "--size", "5",
                     "--min-countries", "4", "--max-per-country", "1", "--must-include", "tr-0001", "--json")
    assert result.returncode == 0, result.stderr
    _check_teams(json.loads(result.stdout), "tr-0001")
    from matcher.store.keys import KeyStore

    agency = KeyStore(demo_engine.store).create("agency")[1]
    with TestClient(create_app(demo_engine.config, services=demo_services), headers={"X-API-Key": agency}) as client:
        response = client.post("/v1/consortia", json={
            "call_text": CLIMATE_CALL, "size": 5, "min_countries": 4, "max_per_country": 1,
            "must_include": ["tr-0001"], "group_min": ["widening:1"],
        })
        assert response.status_code == 200, response.text
        _check_teams(response.json(), "tr-0001")
        infeasible = client.post("/v1/consortia", json={
            "call_text": CLIMATE_CALL, "size": 5, "min_countries": 4, "pool_countries": ["DE", "FR", "TR"]})
        assert infeasible.status_code == 422
        assert "at least 4 countries required" in infeasible.json()["detail"]


def test_batch_acceptance_on_the_demo_pool(demo_engine, tmp_path):
    import csv

    from .test_cli import matcher

    home = demo_engine.store.home
    result = matcher(home, "batch", "--mode", "topk", "--k", "5", "--out", str(tmp_path / "topk"))
    assert result.returncode == 0, result.stderr
    for name in ("pairs.csv", "pairs.parquet", "pairs.xlsx", "report.html", "unmatched.csv"):
        assert (tmp_path / "topk" / name).stat().st_size > 0
    with open(tmp_path / "topk" / "pairs.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0])[:7] == ["applicant_id", "partner_id", "score", "rank", "reason", "strength", "strength_label"]
    names = {p.id: p.name for p in demo_engine.store.profiles()}
    assert all(r["applicant_name"] == names[r["applicant_id"]] and r["partner_country"] for r in rows)
    country = {p.id: p.country for p in demo_engine.store.profiles()}
    assert all(country[r["applicant_id"]] != country[r["partner_id"]] for r in rows)
    with open(tmp_path / "topk" / "unmatched.csv") as handle:
        short = {r["applicant_id"]: r["reason"] for r in csv.DictReader(handle)}
    per = {}
    for r in rows:
        per[r["applicant_id"]] = per.get(r["applicant_id"], 0) + 1
    for pid in country:
        assert per.get(pid, 0) == 5 or short.get(pid), pid
    page = (tmp_path / "topk" / "report.html").read_text()
    assert "<svg" not in page and "id='pair-list'" in page and "id='run-details'" in page

    pairs = matcher(home, "batch", "--mode", "pairs", "--capacity", "2", "--out", str(tmp_path / "pairs"))
    assert pairs.returncode == 0, pairs.stderr
    with open(tmp_path / "pairs" / "pairs.csv") as handle:
        rows = list(csv.DictReader(handle))
    degree: dict[str, int] = {}
    for r in rows:
        degree[r["applicant_id"]] = degree.get(r["applicant_id"], 0) + 1
    assert rows and max(degree.values()) <= 2

    two = matcher(home, "batch", "--mode", "bipartite", "--sides", "TR", "--sides", "DE,FR", "--capacity", "2",
                  "--out", str(tmp_path / "two"))
    assert two.returncode == 0, two.stderr
    with open(tmp_path / "two" / "pairs.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and all((country[r["applicant_id"]] == "TR") != (country[r["partner_id"]] == "TR") for r in rows)
