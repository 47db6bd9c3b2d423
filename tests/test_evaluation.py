"""`matcher eval`: metrics checked by hand, the expertise loss end to end, the CORDIS split."""

from __future__ import annotations

import json
from datetime import date

import pytest

from matcher.evaluation.consortia import read_projects, temporal_split
from matcher.evaluation.metrics import ndcg_at, ordering_loss, recall_at, reciprocal_rank
from matcher.score.strength import TABLES

from .conftest import SHARED
from .test_cli import matcher

CLEANTECH = SHARED / "cordis-cleantech" / "projects-2014-2017.csv"


def test_ranking_metrics_by_hand():
    ranked = ["a", "x", "b", "y"]
    assert recall_at(ranked, {"a", "b", "c"}, 2) == pytest.approx(1 / 3)
    assert reciprocal_rank(ranked, {"b"}) == pytest.approx(1 / 3)
    assert reciprocal_rank(ranked, {"z"}) == 0.0
    # hits at ranks 1 and 3: (1 + 1/2) / (1 + 1/log2(3))
    assert ndcg_at(ranked, {"a", "b"}, 10) == pytest.approx(1.5 / (1 + 1 / 1.5849625), rel=1e-6)


def test_ordering_loss_by_hand():
    right = [(5, 0.9), (3, 0.5), (1, 0.1)]  # every pair ordered as rated
    wrong = [(5, 0.1), (3, 0.5), (1, 0.9)]  # every pair inverted
    assert ordering_loss([right]) == (0.0, 1.0, 3)
    assert ordering_loss([wrong]) == (1.0, 0.0, 3)
    assert ordering_loss([right, wrong]) == (0.5, 0.5, 6)
    tie = [(4, 0.5), (2, 0.5), (2, 0.9)]  # (4,2) tie costs 1 of 2; (4,2') wrong costs 2; (2,2') not a pair
    assert ordering_loss([tie]) == (0.75, 0.0, 2)
    assert ordering_loss([[(3, 0.2)]]) == (0.0, 0.0, 0)


@pytest.mark.integration
def test_eval_expertise_end_to_end(tmp_path):
    (tmp_path / "people.jsonl").write_text(
        "\n".join(
            json.dumps({"id": pid, "name": pid, "country": "DE", "works": [{"title": title}]})
            for pid, title in [("hydro", "Groundwater flow and recharge in karst aquifers"),
                               ("hydro2", "Nitrate contamination of groundwater in aquifers")]
        )
    )
    texts = [("t1", "Groundwater flow modelling in karst aquifers", 5),
             ("t2", "Water management in river basins", 3),
             ("t3", "Medieval French love poetry", 1)]
    rows = ["profile_id,text_id,text,rating"]
    rows += [f"hydro,{t},{text},{r}" for t, text, r in texts]
    rows += [f"hydro2,{t},{text},{6 - r}" for t, text, r in texts]  # this person's ratings are inverted
    (tmp_path / "judged.csv").write_text("\n".join(rows) + "\n")
    result = matcher(tmp_path / "store", "eval", "expertise", "--profiles", str(tmp_path / "people.jsonl"),
                     "--judgments", str(tmp_path / "judged.csv"), "--json", "--out", str(tmp_path / "out.json"))
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)["variants"]["shipped default"]
    # hand-checked: person 1 orders all 3 pairs right (cost 0 of 8), person 2 all wrong (8 of 8)
    assert figures == {"loss": 0.5, "correct_pairs": 0.5, "pairs": 6}
    assert json.loads((tmp_path / "out.json").read_text())["variants"]["shipped default"] == figures


@pytest.mark.skipif(not CLEANTECH.exists(), reason="shared CORDIS data not present")
def test_cordis_split_matches_the_published_counts():
    split = temporal_split(read_projects(CLEANTECH), date(2017, 1, 1), date(2018, 1, 1))
    assert (len(split.profiles), len(split.queries)) == (2898, 155)
    for query in split.queries:
        assert query.project.start >= date(2017, 1, 1)
        assert query.idea_targets
        assert query.coordinator not in query.coordinator_targets


def test_shipped_defaults_are_the_ones_docs_evaluation_chose():
    from matcher.score.scoring import ScoringConfig

    from .conftest import ROOT

    doc = (ROOT / "docs" / "EVALUATION.md").read_text()
    line = next(x for x in doc.splitlines() if x.startswith("**Shipped defaults:"))
    chosen = dict(part.split("=") for part in line.strip("*").removeprefix("Shipped defaults:").split(", "))
    shipped = ScoringConfig()
    for knob, value in chosen.items():
        assert str(getattr(shipped, knob.strip())) == value.strip(), knob


@pytest.mark.integration
@pytest.mark.skipif(not CLEANTECH.exists(), reason="shared CORDIS data not present")
def test_eval_consortia_prints_both_variants(tmp_path):
    result = matcher(tmp_path / "store", "eval", "consortia", "--projects", str(CLEANTECH), "--cut", "2017-01-01",
                     "--until", "2018-01-01", "--json", timeout=1800)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["split"] == {"cut": "2017-01-01", "until": "2018-01-01", "organisations": 2898, "queries": 155,
                               "roles": "guessed from legal names", "with_role": 2264}
    figures = report["variants"]["shipped default"]
    assert figures["idea"]["queries"] == 155 and figures["coordinator_idea"]["queries"] == 106
    for variant in ("idea", "coordinator_idea"):
        assert set(figures[variant]) == {"recall@10", "recall@50", "mrr", "ndcg@10", "queries"}
    assert figures["idea"]["recall@50"] > 0.35  # far above the 0.27 of a plain centroid
    fairness = report["fairness"]  # the fairness option's cost, the idea lists as one batch
    plain, fair = fairness["plain"], fairness["fair, cap 1 (default)"]
    assert plain["recall@10"] == figures["idea"]["recall@10"]  # the same lists as the variant's
    assert fair["gini"] < plain["gini"] - 0.1 and fair["most_suggested"] < plain["most_suggested"]
    assert 0 < fair["recall@10"] <= plain["recall@10"]
    assert "fairness option (matcher batch --fair)" in result.stderr
    calibration = report["calibration"]  # the scale of match strength is the one this data gives
    assert calibration["partners"] == {"text": 917, "profile": 398, "pair": 398}
    for kind, table in TABLES.items():
        assert calibration[kind] == pytest.approx(table.tolist(), abs=0.01), kind


def test_a_cordis_export_gives_projects_with_their_coordinators_and_the_real_roles(tmp_path):
    """`--projects` may be a CORDIS export pair: coordinators from the `role` column, each
    organisation's role from its activityType instead of a guess from its name; end to end
    through the command with the real model."""
    from matcher.evaluation.consortia import read_source

    from .conftest import ROOT

    fixture = ROOT / "tests" / "fixtures" / "sources" / "cordis"
    source = read_source(fixture)
    karst = next(p for p in source.projects if p.id == "101100001")
    assert karst.coordinator == "ARISTOTELIO PANEPISTIMIO THESSALONIKIS" and karst.coordinator_country == "EL"
    assert karst.start == date(2023, 1, 1) and len(karst.participants) == 2
    assert source.roles is not None and source.roles["ATLANTIS INSTITUTE"] == "REC"
    split = temporal_split(source.projects, date(2023, 1, 1), None, source.roles)
    roles = {p.name: p.role for p in split.profiles}
    assert roles["INSTITUT NATIONAL DE RECHERCHE POUR L'AGRICULTURE, L'ALIMENTATION ET L'ENVIRONNEMENT"] == "REC"
    assert [q.project.id for q in split.queries] == ["101100001"]
    result = matcher(tmp_path / "store", "eval", "consortia", "--projects", str(fixture), "--cut", "2023-01-01",
                     "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["split"]["roles"] == "given (activityType)" and report["split"]["with_role"] == 3
    assert report["variants"]["shipped default"]["idea"]["queries"] == 1
