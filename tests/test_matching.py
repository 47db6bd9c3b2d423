"""Matching through the engine on a fake embedder: rules and invariants as properties."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matcher.domain.errors import InvalidQuery, ProfileNotFound, UnknownCountry
from matcher.service.engine import Engine, MatchRequest

from .conftest import COUNTRIES

FIXTURE_OK = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FIXTURE_OK
@given(
    requester=st.integers(0, 47),
    k=st.integers(1, 100),
    excluded=st.sets(st.sampled_from(COUNTRIES), max_size=4),
    own=st.booleans(),
    text=st.none() | st.sampled_from(["groundwater aquifer transport", "neural network training", "drought crop"]),
    diversity=st.floats(0, 1),
)
def test_invariants(fake_engine: Engine, requester, k, excluded, own, text, diversity):
    me = f"p{requester:03d}"
    my_country = fake_engine.store.get(me).country
    request = MatchRequest(
        profile_id=me, text=text, k=k, exclude_countries=tuple(sorted(excluded)),
        exclude_own_country=not own, diversity=diversity,
    )
    out = fake_engine.match(request)
    eligible = [
        p for p in fake_engine.store.profiles()
        if p.id != me and p.country not in excluded and (own or p.country != my_country)
    ]
    assert len(out) == min(k, len(eligible))  # never more than k; a k beyond the pool is clamped
    assert me not in {s.id for s in out}
    assert len({s.id for s in out}) == len(out)
    assert not {s.country for s in out} & excluded
    if not own:
        assert my_country not in {s.country for s in out}
    assert all(s.explanation.rule and s.explanation.summary for s in out)


def test_text_query_finds_the_topic(fake_engine):
    out = fake_engine.match(MatchRequest(text="groundwater aquifer contaminant transport in karst", k=5))
    topics = [fake_engine.store.get(s.id).keywords[0] for s in out]
    assert topics.count("water") == 5
    first = out[0].explanation
    assert first.matched_works and first.matched_works[0].matched == "your text"
    assert set(first.shared_terms) & {"groundwater", "aquifer", "karst", "contaminant", "transport"}


def test_profile_query_prefers_the_same_topic_and_says_why(fake_engine):
    out = fake_engine.match(MatchRequest(profile_id="p000", k=5, diversity=0.0))
    assert all(fake_engine.store.get(s.id).keywords == ("water",) for s in out[:3])
    assert out[0].explanation.matched_works[0].matched != "your text"
    assert "cross-border" in out[0].explanation.rule


def test_include_list_and_groups(fake_engine):
    out = fake_engine.match(MatchRequest(profile_id="p000", k=50, countries=("widening",)))
    assert out and {s.country for s in out} <= {"TR", "PT", "PL", "GR"}
    with pytest.raises(UnknownCountry):
        fake_engine.match(MatchRequest(profile_id="p000", countries=("Atlantis",)))


def test_conflicts_are_flagged_or_excluded(fake_engine):
    # p000's first work lists p004 as co-author; p004 is in country index 4 (PL), p000 in DE
    flagged = fake_engine.match(MatchRequest(profile_id="p000", k=50))
    assert any(s.id == "p004" and s.explanation.coauthor for s in flagged)
    excluded = fake_engine.match(MatchRequest(profile_id="p000", k=50, exclude_coauthors=True))
    assert "p004" not in {s.id for s in excluded}
    same = fake_engine.match(MatchRequest(profile_id="p000", k=50, exclude_same_institution=True))
    me = fake_engine.store.get("p000").institution
    assert all(fake_engine.store.get(s.id).institution != me for s in same)


def test_deleted_profile_never_appears_again(fake_engine):
    before = fake_engine.match(MatchRequest(text="groundwater aquifer", k=1))[0].id
    fake_engine.delete(before)
    after = fake_engine.match(MatchRequest(text="groundwater aquifer", k=48))
    assert before not in {s.id for s in after}
    with pytest.raises(ProfileNotFound):
        fake_engine.match(MatchRequest(profile_id=before))


def test_bad_queries(fake_engine):
    with pytest.raises(InvalidQuery):
        fake_engine.match(MatchRequest())
    with pytest.raises(InvalidQuery):
        fake_engine.match(MatchRequest(text="x", k=101))
    with pytest.raises(ProfileNotFound):
        fake_engine.match(MatchRequest(profile_id="nobody"))


def test_same_input_same_output(fake_engine):
    request = MatchRequest(profile_id="p007", text="neural network embedding", k=10)
    assert fake_engine.match(request) == fake_engine.match(request)


def test_cache_means_no_re_embedding(fake_engine, tmp_path):
    fake = fake_engine.embedder.embedder
    before = fake.texts_embedded
    fake_engine.add(fake_engine.store.profiles())  # unchanged
    fake_engine.corpus()
    assert fake.texts_embedded == before
