"""The real packaged model, the real store and the shipped demo pool."""

from __future__ import annotations

import json

import numpy as np
import pytest

from matcher import demo_store
from matcher.corpus import corpus_texts
from matcher.embedding import SentenceTransformerEmbedder
from matcher.engine import Engine, MatchRequest
from matcher.readers import read_profiles

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


def test_shipped_demo_vectors_are_this_models(model):
    profiles = [p for _, p in read_profiles(demo_store.DEMO_DIR / "profiles.jsonl").profiles]
    texts = corpus_texts(profiles)[0]
    with np.load(demo_store.DEMO_DIR / "vectors.npz", allow_pickle=False) as shipped:
        assert len(shipped["vectors"]) == len(texts)
        sample = np.random.default_rng(3).choice(len(texts), 24, replace=False)
        fresh = model.embed([texts[i] for i in sample])
        stored = shipped["vectors"][sample].astype(np.float32)
    cosines = np.sum(fresh * stored, axis=1) / np.linalg.norm(stored, axis=1)
    assert cosines.min() > 0.999


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
