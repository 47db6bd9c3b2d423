"""Scores that mean something: calibrated strength, weak lists that say so, priors that only reorder
near-ties, and lists that say why they are out of order."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.ingest.readers import read_profiles
from matcher.rank.matching import no_close_match, score_rows
from matcher.rank.notes import Listed, order_notes
from matcher.score.diversity import TIE_WINDOW, mmr
from matcher.score.query import PreparedQuery
from matcher.score.scoring import ScoringConfig, activity, profile_relevance
from matcher.score.strength import blended_strength, label, strength
from matcher.service.bootstrap import Services, bootstrap
from matcher.service.config import Config
from matcher.service.engine import Engine, MatchRequest

SMALL_POOL = Path(__file__).parent / "fixtures" / "small-pool-20.jsonl"


# -- the scale -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["text", "profile", "pair"])
def test_strength_is_monotone_and_within_0_1(kind):
    values = strength(np.linspace(-1, 1, 401), kind)
    assert values.min() == 0.0 and values.max() == 1.0
    assert np.all(np.diff(values) >= 0)


def test_labels_and_blend():
    assert [label(x) for x in (0.0, 0.49, 0.5, 0.74, 0.75, 1.0)] == ["weak", "weak", "good", "good", "strong", "strong"]
    text, profile = np.array([0.7]), np.array([0.3])
    both = blended_strength(text, profile, 0.7)
    assert both == pytest.approx(0.7 * strength(text, "text") + 0.3 * strength(profile, "profile"))
    assert blended_strength(None, profile, 0.7) == pytest.approx(strength(profile, "profile"))
    with pytest.raises(ValueError):
        blended_strength(None, None, 0.5)


def test_activity_prior_has_a_fixed_scale():
    config = ScoringConfig()
    prior = activity(np.array([1, 2, 8, 44, 400]), config)
    assert prior[-1] == prior[-2] == pytest.approx(1.0)  # capped
    assert prior[2] - prior[1] < 0.3  # 2 against 8 works: a nudge, not a verdict
    with pytest.raises(ValueError):
        ScoringConfig(activity_full_at=0)


# -- the core, on the fake embedder --------------------------------------------------------------


def test_a_profile_query_keeps_its_whole_relevance(fake_engine: Engine):
    """A query by profile alone used to weigh its relevance by 1 - text_weight (0.3), so the priors
    outweighed it."""
    corpus = fake_engine.corpus()
    me = corpus.row_of["p000"]
    rows = np.flatnonzero(corpus.active & (np.arange(len(corpus)) != me))
    scored = score_rows(corpus, rows, PreparedQuery(requester=me), fake_engine.config.scoring)
    alone, _ = profile_relevance(corpus, rows, me, fake_engine.config.scoring)
    assert scored.dense == pytest.approx(alone, abs=1e-6)


def test_every_suggestion_carries_strength_and_label(fake_engine: Engine):
    out = fake_engine.match(MatchRequest(profile_id="p000", text="groundwater aquifer transport", k=20))
    assert out
    for s in out:
        assert 0.0 <= s.strength <= 1.0
        assert s.strength_label == label(s.strength)


def test_order_notes_name_the_cause():
    vectors = np.eye(4, dtype=np.float32)
    vectors[2] = vectors[0]  # the third is a copy of the first
    listed = Listed(
        scores=np.array([0.9, 0.5, 0.6, 0.4]), strength=np.array([0.9, 0.6, 0.7, 0.8]),
        lexical=np.array([0.1, 0.1, 0.1, 0.0]), activity=np.array([0.1, 0.1, 0.1, 0.0]),
        works=np.array([3, 3, 3, 1]), vectors=vectors, names=["A", "B", "C", "D"],
    )
    notes = order_notes(listed)
    assert notes[0] is None
    assert "moved up by the diversity re-rank" in str(notes[1])
    assert "moved down by the diversity re-rank: similar to A above" in str(notes[2])
    assert "above closer matches (strength up to 0.80)" in str(notes[2])
    assert "more shared key terms and a longer record (3 works)" in str(notes[2])
    assert notes[3] is None
    plain = Listed(scores=np.array([0.9, 0.8]), strength=np.array([0.9, 0.8]), lexical=np.zeros(2),
                   activity=np.zeros(2), works=np.ones(2), vectors=vectors[:2], names=["A", "B"])
    assert order_notes(plain) == [None, None]


# -- a small hand-written pool on the real model -------------------------------------------------


@pytest.fixture(scope="module")
def small_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """20 researchers: masonry (the requester, TR, and one in IT), adobe retrofitting, seismic
    neighbours (soil liquefaction, tsunami, concrete), and unrelated fields, some with many works
    (karst aquifers: 7, sewage AMR: 5)."""
    services = bootstrap(Config(home=tmp_path_factory.mktemp("small-pool")))
    read = read_profiles(SMALL_POOL)
    assert not read.rejected and len(read.profiles) == 20
    services.engine.add([p for _, p in read.profiles])
    yield services
    services.close()


@pytest.mark.integration
@pytest.mark.parametrize("diversity", [None, 0.0, 0.3])
def test_masonry_requester_gets_masonry_and_adobe_first(small_pool: Services, diversity):
    out = small_pool.engine.match(MatchRequest(profile_id="tr-masonry", k=5, diversity=diversity))
    assert {s.id for s in out[:2]} == {"it-masonry", "pe-adobe"}, [(s.id, s.score, s.relevance) for s in out]
    assert not {"si-karst", "nl-amr"} & {s.id for s in out[:3]}
    by_id = {s.id: s for s in out}
    assert by_id["it-masonry"].strength_label == "strong" and by_id["pe-adobe"].strength_label != "weak"
    assert all(s.strength_label == "weak" for s in out if s.id in {"si-karst", "nl-amr", "us-concrete"})


@pytest.mark.integration
def test_a_topic_the_pool_lacks_says_so(small_pool: Services):
    weak = small_pool.engine.match(MatchRequest(text="wheat rust from drone imagery", k=5))
    assert all(s.strength_label == "weak" for s in weak)
    note = no_close_match(weak)
    assert note is not None and note.startswith("no close match in this pool; closest: Jonas Weber (DE)")
    assert weak[0].explanation.summary.startswith("weak match:")
    good = small_pool.engine.match(MatchRequest(text="seismic retrofitting of masonry and earthen buildings", k=5))
    assert [s.strength_label for s in good[:3]] == ["strong"] * 3 and no_close_match(good) is None
    assert " is close to your text" in good[0].explanation.summary


@pytest.mark.integration
def test_shown_order_agrees_with_its_figures_or_says_why(demo_engine: Engine):
    """On the demo pool: wherever a suggestion stands above one with a higher score or a higher
    strength, it or the other one carries a note naming the cause."""
    rng = np.random.default_rng(7)
    ids = sorted(demo_engine.store.list_ids(offset=0, limit=2000))
    checked = 0
    for pick in rng.choice(len(ids), 25, replace=False):
        out = demo_engine.match(MatchRequest(profile_id=ids[int(pick)][0], k=10, diversity=0.3))
        for p, above in enumerate(out):
            for below in out[p + 1 :]:
                checked += 1
                if below.score > above.score:
                    assert "diversity re-rank" in str(above.rank_note) and "diversity re-rank" in str(below.rank_note)
                if round(below.strength, 2) > round(above.strength, 2) and below.score <= above.score:
                    assert "above closer matches" in str(above.rank_note)
    assert checked > 1000


@settings(max_examples=60, deadline=None)
@given(
    scores=st.lists(st.floats(0, 1), min_size=1, max_size=30),
    k=st.integers(1, 30),
    diversity=st.floats(0, 1),
    seed=st.integers(0, 2**16),
)
def test_diversity_reorders_only_near_ties(scores, k, diversity, seed):
    values = np.asarray(scores)
    vectors = np.random.default_rng(seed).normal(size=(len(values), 8))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    picked = mmr(values, vectors, k, diversity)
    assert len(set(picked.tolist())) == len(picked) == min(k, len(values))
    rest = np.setdiff1d(np.arange(len(values)), picked)
    for p, i in enumerate(picked):
        later = np.r_[picked[p + 1 :], rest]  # every item placed below i, listed or not
        assert not later.size or values[later].max() <= values[i] + TIE_WINDOW + 1e-12


# -- what the API and the CLI show ---------------------------------------------------------------


def test_api_match_carries_strength_and_says_when_nothing_is_close(fake_engine: Engine, fake_services: Services):
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import ApiConfig
    from matcher.store.keys import KeyStore

    key = KeyStore(fake_engine.store).create("read")[1]
    app = create_app(fake_engine.config, services=fake_services, api=ApiConfig(rate_limit_per_minute=10_000))
    with TestClient(app, headers={"X-API-Key": key}) as c:
        close = c.post("/v1/match", json={"text": "groundwater aquifer contaminant transport karst", "k": 5}).json()
        assert close["note"] is None
        first = close["suggestions"][0]
        assert first["strength_label"] == label(first["strength"]) == "strong" and "rank_note" in first
        far = c.post("/v1/match", json={"text": "medieval manuscript illumination pigments", "k": 5}).json()
        assert far["note"].startswith("no close match in this pool; closest: ")
        assert all(s["strength_label"] == "weak" for s in far["suggestions"])


@pytest.mark.integration
def test_cli_shows_strength_and_the_weak_note(tmp_path: Path):
    from .test_cli import matcher

    home = tmp_path / "store"
    assert matcher(home, "ingest", str(SMALL_POOL)).returncode == 0
    weak = matcher(home, "match", "--text", "wheat rust from drone imagery", "--k", "3")
    assert weak.returncode == 0, weak.stderr
    assert "note: no close match in this pool; closest: Jonas Weber (DE), strength 0.3" in weak.stderr
    assert "weak match, strength 0.30, score" in weak.stdout and "why: weak match:" in weak.stdout
    good = matcher(home, "match", "--id", "tr-masonry", "--k", "3", "--json")
    first = json.loads(good.stdout)[0]
    assert first["id"] == "it-masonry" and first["strength_label"] == "strong" and "rank_note" in first
    assert "note:" not in good.stderr
    for command, flag in (("consortium", "--min-difference"), ("batch", "--min-score")):
        assert flag in matcher(home, command, "--help").stdout
