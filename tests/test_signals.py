"""Non-text signals: an organisation's role and SME flag (profile format, CORDIS, the legal-name
guess of the evaluation), recency of activity, the role prior, and BM25 with a normalisation that
does not depend on the pool or the candidate list."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_extraction.text import CountVectorizer

from matcher.domain.errors import InvalidProfile
from matcher.domain.profiles import parse_profile, profile_to_dict
from matcher.evaluation.roles import guess_role
from matcher.index.corpus import build_corpus
from matcher.index.lexical import _COMMON, LexicalModel, LexicalRows
from matcher.index.segment import (
    N_ROLE_CATEGORIES,
    ROLE_CODES,
    SME_NOT_SAID,
    SME_YES,
    corpus_texts,
    role_categories,
)
from matcher.ingest.cordis import read_cordis
from matcher.rank.matching import score_rows
from matcher.score.query import PreparedQuery
from matcher.score.scoring import ScoringConfig
from matcher.score.signals import recency, role_lift, role_prior
from matcher.service.bootstrap import bootstrap
from matcher.service.config import Config
from matcher.service.engine import MatchRequest
from matcher.testing import FakeEmbedder
from tests.conftest import fake_services_at

ROOT = Path(__file__).resolve().parents[1]
CORDIS_FIXTURE = ROOT / "tests" / "fixtures" / "sources" / "cordis"
SAMPLE = ROOT.parent / "shared" / "data" / "cordis-horizon-sample"


def org(pid: str, role: str | None = None, sme: bool | None = None, years: tuple[int, ...] = (2020,),
        text: str = "solar cells", partners: tuple[str, ...] = ()) -> dict:
    record: dict = {
        "id": pid, "name": pid.upper(), "kind": "organisation", "country": "DE",
        "works": [{"id": f"{pid}-{y}", "title": f"{text} {y}", "year": y, "coauthors": list(partners)} for y in years],
    }
    if role is not None:
        record["role"] = role
    if sme is not None:
        record["sme"] = sme
    return record


# -- the profile format -------------------------------------------------------------------------


def test_role_and_sme_are_read_in_codes_names_and_any_case():
    assert parse_profile(org("a", "hes")).role == "HES"
    assert parse_profile(org("a", "Private for-profit entities")).role == "PRC"
    assert parse_profile(org("a", "PUB", "yes")).sme is True
    assert parse_profile(org("a", "PRC", "False")).sme is False
    assert parse_profile(org("a", "PRC", True)).sme is True
    assert (parse_profile(org("a", "PRC", 1)).sme, parse_profile(org("a", "PRC", 0)).sme) == (True, False)
    plain = parse_profile(org("a"))
    assert (plain.role, plain.sme) == (None, None)


def test_a_bad_role_or_sme_names_the_field_and_the_codes():
    with pytest.raises(InvalidProfile) as err:
        parse_profile(org("a", "startup"))
    assert err.value.field == "role" and "HES, REC, PRC, PUB, OTH" in err.value.reason
    for bad in ("maybe", 2):
        with pytest.raises(InvalidProfile) as err:
            parse_profile(org("a", "PRC", bad))
        assert err.value.field == "sme" and "true or false" in err.value.reason


def test_profiles_without_role_keep_their_form_and_content_hash():
    plain = parse_profile(org("a"))
    assert "role" not in profile_to_dict(plain) and "sme" not in profile_to_dict(plain)
    with_role = parse_profile(org("a", "REC", False))
    assert profile_to_dict(with_role)["role"] == "REC" and profile_to_dict(with_role)["sme"] is False
    assert parse_profile(profile_to_dict(with_role)) == with_role
    assert with_role.content_hash() != plain.content_hash()


def test_cordis_activity_type_and_sme_become_role_and_sme(tmp_path):
    profiles = {p.id: p for _, p in read_cordis(CORDIS_FIXTURE).profiles}
    assert profiles["cordis-org-999000001"].role == "HES"
    assert profiles["cordis-org-999000004"].role == "REC"
    assert all(p.sme is False for p in profiles.values())
    (tmp_path / "project.csv").write_text("id,title,startDate,objective\n7,Heat pumps,2019-01-01,x\n")
    (tmp_path / "organization.csv").write_text(
        "projectID,organisationID,name,country,activityType,SME\n7,1,ACME GMBH,DE,PRC,true\n7,2,CITY OF X,FR,,\n"
    )
    got = {p.id: (p.role, p.sme) for _, p in read_cordis(tmp_path).profiles}
    assert got == {"cordis-org-1": ("PRC", True), "cordis-org-2": (None, None)}


# -- the legal-name guess -----------------------------------------------------------------------


@pytest.mark.parametrize(("name", "role"), [
    ("UNIVERSITAET POTSDAM", "HES"),
    ("Technische Universität Wien", "HES"),
    ("ARISTOTELIO PANEPISTIMIO THESSALONIKIS", "HES"),
    ("CUREVISION GMBH", "PRC"),
    ("STICKYDOT S.R.L.", "PRC"),
    ("ADSORBI AB", "PRC"),
    ("FRAUNHOFER GESELLSCHAFT ZUR FOERDERUNG DER ANGEWANDTEN FORSCHUNG E.V.", "REC"),
    ("CONSIGLIO NAZIONALE DELLE RICERCHE", "REC"),
    ("MINISTERIO DE CIENCIA E INNOVACION", "PUB"),
    ("STICHTING FOOD VALLEY", "OTH"),
    ("NORMANDIE INCUBATION", None),
])
def test_guess_role_from_legal_names(name, role):
    assert guess_role(name) == role


def test_guess_role_agrees_with_cordis_on_the_published_sample():
    """The guess against CORDIS's own activityType: of the organisations it places, how many it
    places right (the figure quoted in docs/EVALUATION.md)."""
    if not SAMPLE.is_dir():
        pytest.skip(f"the shared CORDIS sample is not present at {SAMPLE}")
    with (SAMPLE / "organization.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = {r["name"]: r["activityType"] for r in csv.DictReader(handle) if r["activityType"]}
    guessed = {name: guess_role(name) for name in rows}
    placed = [name for name, role in guessed.items() if role is not None]
    right = sum(guessed[name] == rows[name] for name in placed)
    assert len(placed) >= 0.6 * len(rows)
    assert right >= 0.75 * len(placed), (right, len(placed))


# -- recency and the role prior -----------------------------------------------------------------


def test_recency_halves_every_half_life_and_gives_nothing_without_years():
    got = recency(np.array([2020, 2018, 2016, 0]), 2020, 2.0)
    np.testing.assert_allclose(got, [1.0, 0.5, 0.25, 0.0])
    assert recency(np.array([2021]), 2020, 2.0)[0] == 1.0  # a date after the pool's newest counts as now


def test_role_lift_follows_who_works_with_whom():
    hes, prc, rec = (2 * ROLE_CODES[r] for r in ("HES", "PRC", "REC"))
    links = np.zeros((N_ROLE_CATEGORIES, N_ROLE_CATEGORIES))
    links[hes, prc] = links[prc, hes] = 200  # universities and companies work together
    links[rec, rec] = 200  # research organisations with each other
    links[hes, rec] = links[rec, hes] = 10
    links[0, hes] = links[hes, 0] = 500  # links of rows without a role say nothing
    rows = np.zeros(N_ROLE_CATEGORIES)
    rows[[0, hes, prc, rec]] = [50, 10, 10, 10]
    pair, single = role_lift(links, rows)
    assert pair[hes, prc] > 0 > pair[hes, rec]
    assert pair[rec, rec] > 0
    assert np.all(np.abs(pair) <= 1) and np.all(pair[0] == 0) and np.all(pair[:, 0] == 0)
    assert single[0] == 0
    categories = np.array([prc, rec, 0])
    np.testing.assert_array_equal(role_prior((pair, single), categories, hes), pair[hes, categories])
    np.testing.assert_array_equal(role_prior((pair, single), categories, None), single[categories])
    np.testing.assert_array_equal(role_prior((pair, single), categories, 0), single[categories])


def test_role_prior_in_scores_lifts_the_partner_kind_the_requester_works_with(tmp_path):
    """A pool where universities always worked with companies: asked by a university, an equally
    relevant company comes before an equally relevant research organisation once the role weight
    is on, and the default (weight 0) leaves them as text alone orders them."""
    history = []
    for i in range(6):
        history.append(org(f"u{i}", "HES", text="battery storage", partners=(f"c{i}",)))
        history.append(org(f"c{i}", "PRC", text="battery storage", partners=(f"u{i}",)))
        history.append(org(f"r{i}", "REC", text="battery storage", partners=(f"r{(i + 1) % 6}",)))
    profiles = [parse_profile(p) for p in history]
    fake = FakeEmbedder()
    corpus = build_corpus(profiles, fake.embed(corpus_texts(profiles)))
    requester = corpus.row_of["u0"]
    rows = np.array([corpus.row_of["c3"], corpus.row_of["r3"]])
    query = PreparedQuery(requester=requester)
    plain = score_rows(corpus, rows, query, ScoringConfig()).scores
    assert plain[0] == pytest.approx(plain[1], abs=1e-6)  # same texts, same counts: a tie
    weighted = score_rows(corpus, rows, query, ScoringConfig(role_weight=0.1)).scores
    assert weighted[0] > weighted[1]


def test_segment_columns_carry_role_sme_and_last_year(tmp_path):
    """Through the store and a saved snapshot (a reopened engine reads them back)."""
    records = [org("a", "PRC", True, years=(2015, 2019)), org("b", "HES", years=(2012,)), org("c")]
    services = fake_services_at(tmp_path / "store")
    services.engine.add([parse_profile(r) for r in records])
    services.engine.settle()
    services.close()
    services = fake_services_at(tmp_path / "store")
    try:
        corpus = services.engine.corpus()
        rows = [corpus.row_of[p] for p in "abc"]
        assert corpus.roles[rows].tolist() == [ROLE_CODES["PRC"], ROLE_CODES["HES"], 0]
        assert corpus.sme[rows].tolist() == [SME_YES, SME_NOT_SAID, SME_NOT_SAID]
        assert corpus.last_years[rows].tolist() == [2019, 2012, 2020]
        assert corpus.newest_year == 2020
        assert role_categories(corpus.roles, corpus.sme)[rows].tolist() == [2 * ROLE_CODES["PRC"] + 1,
                                                                            2 * ROLE_CODES["HES"], 0]
    finally:
        services.close()


# -- BM25 ---------------------------------------------------------------------------------------

DOCS = [
    "groundwater recharge in karst aquifers groundwater groundwater",
    "karst aquifer tracer tests and groundwater age",
    "deep learning for crop yield prediction from satellite images",
    "crop yield under drought: field trials and models of crop water use",
    "aquifer",
]


def test_weigh_gives_the_fitted_rows_bit_for_bit_with_norms_and_lengths():
    model, fitted = LexicalModel.fit(DOCS, n_documents=len(DOCS))
    again = model.weigh(DOCS)
    assert (fitted.rows != again.rows).nnz == 0
    np.testing.assert_array_equal(fitted.norms, again.norms)
    np.testing.assert_array_equal(fitted.lengths, again.lengths)
    counts = CountVectorizer(vocabulary={t: i for i, t in enumerate(model.terms)}, **_COMMON).transform(DOCS)
    np.testing.assert_array_equal(fitted.lengths, np.asarray(counts.sum(axis=1)).ravel())


def test_bm25_equals_the_formula_on_raw_counts_and_ignores_the_candidate_list():
    from matcher.index.lexical import CsrBlock

    model, weighed = LexicalModel.fit(DOCS, n_documents=len(DOCS))
    lexical = LexicalRows(model, [CsrBlock.of(weighed.rows[:2]), CsrBlock.of(weighed.rows[2:])])  # two segments
    query = model.transform(["groundwater in karst aquifers and crop water"])
    average = float(weighed.lengths.mean())
    rows = np.arange(len(DOCS))
    got = lexical.saturated_scores(query, rows, weighed.norms, weighed.lengths, average, k1=1.2, b=0.75)

    vocabulary = {t: i for i, t in enumerate(model.terms)}
    counts = CountVectorizer(vocabulary=vocabulary, **_COMMON).transform(DOCS).toarray()
    q = query.toarray()[0]
    want = []
    for d in range(len(DOCS)):
        tf = counts[d]
        saturated = tf / (tf + 1.2 * (1 - 0.75 + 0.75 * tf.sum() / average))
        want.append(float((q * saturated).sum() / q.sum()))
    np.testing.assert_allclose(got, want, rtol=1e-5)
    assert got[0] > got[2] and np.all((got >= 0) & (got < 1))
    alone = lexical.saturated_scores(query, np.array([3, 0]), weighed.norms, weighed.lengths, average)
    np.testing.assert_allclose(alone, got[[3, 0]], rtol=1e-6)  # the same, whoever else is scored


def test_bm25_and_signals_through_the_real_model(tmp_path):
    """The real embedding model, the real SQLite store: with MATCHER_LEXICAL=bm25 and the role and
    recency weights on, a match still runs end to end and the knobs move the scores."""
    services = bootstrap(Config(home=tmp_path / "store"))
    try:
        pool = [
            org("uni-a", "HES", years=(2014,), text="perovskite solar cells stability", partners=("acme",)),
            org("acme", "PRC", True, years=(2019,), text="perovskite solar module manufacturing",
                partners=("uni-a",)),
            org("lab-b", "REC", years=(2012,), text="perovskite solar cell degradation under light"),
            org("city-c", "PUB", years=(2019,), text="municipal solar energy planning"),
        ]
        services.engine.add([parse_profile(p) for p in pool])
        request = MatchRequest(text="stable perovskite solar cells", k=3)
        plain = {s.id: s.score for s in services.engine.match(request)}
        scoring = ScoringConfig(lexical="bm25", recency_weight=0.1, role_weight=0.1)
        services.engine.config = dataclasses.replace(services.engine.config, scoring=scoring)
        tuned = {s.id: s.score for s in services.engine.match(request)}
        assert set(plain) == set(tuned) and plain != tuned
        assert tuned["acme"] - plain["acme"] > tuned["lab-b"] - plain["lab-b"]  # recent beats 2012
    finally:
        services.close()


# -- what the review of this feature found --------------------------------------------------------


def test_merged_records_keep_a_role_and_sme_given_by_any_of_them():
    from matcher.ingest import merge_profiles

    plain, told = parse_profile(org("a")), parse_profile(org("a", "PRC", True))
    for records in ([plain, told], [told, plain]):
        merged, _ = merge_profiles([(1, p) for p in records])
        assert [(p.role, p.sme) for _, p in merged] == [("PRC", True)]


def test_an_unknown_activity_type_or_sme_costs_the_organisation_nothing_but_that_field(tmp_path):
    (tmp_path / "project.csv").write_text("id,title,startDate,objective\n7,Heat pumps,2019-01-01,x\n")
    (tmp_path / "organization.csv").write_text(
        "projectID,organisationID,name,country,activityType,SME\n7,1,ACME GMBH,DE,XYZ,maybe\n7,2,UNI,FR,hes,FALSE\n"
    )
    result = read_cordis(tmp_path)
    got = {p.id: (p.role, p.sme, len(p.works)) for _, p in result.profiles}
    assert got == {"cordis-org-1": (None, None, 1), "cordis-org-2": ("HES", False, 1)} and not result.rejected
    assert any("activityType 'XYZ' is not one of HES, REC, PRC, PUB, OTH" in n for n in result.notes)
    assert any("SME 'maybe' is not true or false" in n for n in result.notes)


def test_recency_is_measured_from_the_newest_active_year_and_never_the_future():
    profiles = [parse_profile(org(p, years=(y,))) for p, y in (("a", 2019), ("b", 2020), ("typo", 2100))]
    corpus = build_corpus(profiles, FakeEmbedder().embed(corpus_texts(profiles)))
    from datetime import date

    assert corpus.newest_year == min(2100, date.today().year)  # a mistyped 2100 counts as now
    without = corpus.without("typo", generation=1)
    assert without.newest_year == 2020  # an erased profile's year no longer counts


def test_the_order_note_names_recent_activity_when_it_lifted_a_suggestion():
    profiles = [parse_profile(org("old", years=(2000,), text="soil carbon sequestration in grasslands")),
                parse_profile(org("new", years=(2020,), text="urban traffic noise"))]
    fake = FakeEmbedder()
    corpus = build_corpus(profiles, fake.embed(corpus_texts(profiles)))
    from matcher.rank.matching import match

    text = "soil carbon sequestration in grasslands 2000"
    query = PreparedQuery(text=text, text_vector=fake.embed([text])[0], k=2, diversity=0.0)
    listed = match(corpus, query, ScoringConfig(recency_weight=2.0))
    assert [s.id for s in listed] == ["new", "old"] and listed[0].strength < listed[1].strength
    assert "more recent activity" in str(listed[0].rank_note)


def test_erasing_the_last_profile_after_an_upgrade_leaves_no_snapshot(tmp_path):
    """An older version's snapshot (no longer readable) holding the only profile: erasing it leaves
    nothing of it in the state files."""
    import json

    from matcher.index.snapshot import FORMAT

    services = fake_services_at(tmp_path / "store")
    services.engine.add([parse_profile({**org("acme", "PRC"), "name": "SECRET NAME"})])
    services.engine.corpus()  # opened: the snapshot is written
    root = services.engine.state.snapshots.root
    meta = root / services.engine.state.snapshot.name / "meta.json"
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "format": FORMAT - 1}))
    services.close()
    services = fake_services_at(tmp_path / "store")
    try:
        services.engine.delete("acme")
        assert not services.store.exists("acme")
        files = [p for p in root.rglob("*") if p.is_file()]
        assert [p.name for p in files] == [".merge.lock"]  # the lock file only: no snapshot, no CURRENT
        assert not any(b"SECRET" in p.read_bytes() for p in files)
    finally:
        services.close()
