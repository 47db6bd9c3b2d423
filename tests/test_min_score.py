"""Batch pairing with a minimum strength: no pair below it, and everyone left unpaired for it says so."""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiConfig
from matcher.assign.pairing import greedy_b_matching, too_weak, unmatched_reasons
from matcher.assign.programme import build_request, run_batch
from matcher.domain.errors import InvalidQuery
from matcher.domain.profiles import parse_profile
from matcher.ingest.readers import read_profiles
from matcher.service.bootstrap import Services, bootstrap
from matcher.service.config import Config
from matcher.service.engine import Engine
from matcher.store.keys import KeyStore

from .test_strength import SMALL_POOL


def test_an_applicant_whose_candidates_are_all_too_weak_says_so():
    countries = np.array(["TR", "DE", "FR", "PL"])
    ei, ej, w = np.array([0]), np.array([1]), np.array([0.9])  # 0-1 strong; 2 and 3 only had weak candidates
    sel = greedy_b_matching(4, ei, ej, w, np.ones(4, dtype=np.int64))
    weak = (np.array([2, 2]), np.array([0, 3]))
    out = unmatched_reasons(np.ones(4), ei, ej, sel, np.ones(4), countries, weak=weak, min_score=0.4)
    assert {u.row: u.reason for u in out} == {2: "no partner with strength >= 0.4", 3: too_weak(0.4)}


@pytest.fixture()
def loners(fake_engine: Engine) -> Engine:
    """The fake pool (four topics) plus two applicants whose work shares no word with anyone's."""
    fake_engine.add([
        parse_profile({"id": "de-lone", "name": "Lone DE", "country": "DE",
                       "works": [{"title": "medieval manuscript illumination pigments"}]}),
        parse_profile({"id": "pl-lone", "name": "Lone PL", "country": "PL",
                       "works": [{"title": "sourdough fermentation flavour chemistry"}]}),
    ])
    return fake_engine


@pytest.mark.parametrize("mode", ["pairs", "bipartite"])
def test_no_pair_below_the_minimum_and_the_rest_listed(loners: Engine, mode: str):
    corpus = loners.corpus()
    sides = ("DE,FR,TR,PT", "PL,KE,GR,AZ") if mode == "bipartite" else ()
    plain = run_batch(corpus, build_request(mode, capacity=2, sides=sides))
    assert all(p.strength is not None and p.strength_label for p in plain.pairs)
    assert {"de-lone", "pl-lone"} <= {p.applicant_id for p in plain.pairs}  # forced into weak pairs
    assert min(p.strength for p in plain.pairs) < 0.5
    strict = run_batch(corpus, build_request(mode, capacity=2, sides=sides, min_score=0.5))
    assert strict.pairs and all(p.strength >= 0.5 for p in strict.pairs)
    reasons = {a: r for a, _, _, r in strict.unmatched}
    assert reasons["de-lone"] == reasons["pl-lone"] == "no partner with strength >= 0.5"
    for applicant in set(strict.applicants) - {p.applicant_id for p in strict.pairs}:
        assert applicant in reasons  # nobody disappears without a reason
    zero = run_batch(corpus, build_request(mode, capacity=2, sides=sides, min_score=0.0))
    assert [(p.applicant_id, p.partner_id) for p in zero.pairs] == [(p.applicant_id, p.partner_id) for p in plain.pairs]


def test_min_score_is_checked():
    with pytest.raises(InvalidQuery, match="pairs and bipartite"):
        build_request("topk", min_score=0.4)
    with pytest.raises(InvalidQuery, match="between 0 and 1"):
        build_request("pairs", min_score=1.5)


def test_api_min_score(loners: Engine, fake_services: Services):
    key = KeyStore(loners.store).create("agency")[1]
    app = create_app(loners.config, services=fake_services, api=ApiConfig(rate_limit_per_minute=10_000))
    with TestClient(app, headers={"X-API-Key": key}) as c:
        refused = c.post("/v1/batches", json={"mode": "topk", "min_score": 0.4})
        assert refused.status_code == 422 and "pairs and bipartite" in refused.text
        assert c.post("/v1/batches", json={"mode": "pairs", "min_score": 2}).status_code == 422
        job = c.post("/v1/batches", json={"mode": "pairs", "capacity": 1, "min_score": 0.5}).json()["id"]
        for _ in range(200):
            status = c.get(f"/v1/batches/{job}").json()
            if status["status"] in ("done", "failed"):
                break
            time.sleep(0.05)
        assert status["status"] == "done", status
        result = c.get(f"/v1/batches/{job}/result").json()
        assert all(p["strength"] >= 0.5 for p in result["pairs"])
        assert {"applicant_id": "de-lone", "wanted": 1, "matched": 0,
                "reason": "no partner with strength >= 0.5"} in result["unmatched"]


@pytest.fixture(scope="module")
def small_pool_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    services = bootstrap(Config(home=tmp_path_factory.mktemp("small-pool-pairs")))
    services.engine.add([p for _, p in read_profiles(SMALL_POOL).profiles])
    yield services.engine
    services.close()


@pytest.mark.integration
def test_small_pool_pairs_only_those_close_enough(small_pool_engine: Engine):
    """20 researchers in mostly unrelated fields, one partner each: the plain pairing forces pairs such as
    tsunami hazard with brain-tumour imaging (strength 0.01)."""
    corpus = small_pool_engine.corpus()
    forced = run_batch(corpus, build_request("pairs", capacity=1))
    assert min(p.strength for p in forced.pairs) < 0.1 and not forced.unmatched
    kept = run_batch(corpus, build_request("pairs", capacity=1, min_score=0.4))
    assert kept.pairs and min(p.strength for p in kept.pairs) >= 0.4
    pairs = {(p.applicant_id, p.partner_id) for p in kept.pairs}
    assert {("it-masonry", "tr-masonry"), ("si-karst", "ma-water")} & pairs
    short = {a: r for a, _, _, r in kept.unmatched}
    assert short["jp-tsunami"] == "no partner with strength >= 0.4"
    assert len(short) + len({p.applicant_id for p in kept.pairs}) == 20
