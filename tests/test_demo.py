"""Tests for matcher.demo.pool: the deterministic demo pool and the structure planted in it."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pycountry
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.demo.pool import ABSTRACT_WORDS, CAREER_STAGES, GENDERS, YEARS, DemoPool, generate_pool, write_pool
from matcher.demo.vocab import COUNTRIES, FIELDS

ROOT = Path(__file__).resolve().parents[1]
PROFILE_KEYS = [
    "id", "name", "kind", "country", "institution", "keywords", "works", "capacity", "career_stage", "gender",
]
WORK_KEYS = ["id", "title", "abstract", "year", "coauthors"]
REQUIRED_FIELDS = {
    "hydrology", "agronomy_climate", "soil_science", "renewable_energy", "battery_materials", "hydrogen",
    "marine_biology", "epidemiology", "antimicrobial_resistance", "neuroscience", "machine_learning", "nlp",
    "robotics", "quantum_computing", "materials_science", "urban_planning", "transport", "development_economics",
    "migration_studies", "archaeology_heritage", "linguistics", "public_health_nutrition", "forestry_biodiversity",
    "seismology_hazards", "astrophysics", "cybersecurity", "additive_manufacturing",
}
WIDENING_AND_TURKIC = {"PT", "GR", "RO", "BG", "HR", "CZ", "HU", "EE", "LT", "SI", "AZ", "KZ", "UZ", "KG", "TR"}
ELSEWHERE = {"NG", "KE", "ZA", "EG", "IN", "CN", "JP", "BR", "MX", "US", "CA"}


@pytest.fixture(scope="module")
def pool() -> DemoPool:
    return generate_pool()


@pytest.fixture(scope="module")
def by_id(pool: DemoPool) -> dict[str, dict[str, Any]]:
    return {p["id"]: p for p in pool.profiles}


def digest(pool: DemoPool) -> str:
    blob = json.dumps([pool.profiles, pool.truth], ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def all_works(pool: DemoPool) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(p, w) for p in pool.profiles for w in p["works"]]


# -- determinism -------------------------------------------------------------------------


def test_same_seed_gives_the_same_pool(pool: DemoPool) -> None:
    assert generate_pool() == pool
    assert generate_pool(seed=3, n_researchers=120) == generate_pool(seed=3, n_researchers=120)


def test_another_seed_gives_another_pool() -> None:
    assert digest(generate_pool(seed=8, n_researchers=120)) != digest(generate_pool(seed=7, n_researchers=120))


def test_same_bytes_in_other_processes_whatever_the_hash_seed() -> None:
    code = (
        "import hashlib, json; from matcher.demo.pool import generate_pool; "
        "p = generate_pool(seed=11, n_researchers=300); "
        "print(hashlib.sha256(json.dumps([p.profiles, p.truth], ensure_ascii=False).encode()).hexdigest())"
    )
    expected = digest(generate_pool(seed=11, n_researchers=300))
    for hash_seed in ("1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(ROOT)}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        assert out.stdout.strip() == expected


def test_too_small_a_pool_is_refused() -> None:
    with pytest.raises(ValueError, match="at least"):
        generate_pool(n_researchers=len(FIELDS))


# -- sizes, ids and formats ----------------------------------------------------------------


def test_counts(pool: DemoPool) -> None:
    assert len(pool.profiles) >= 1500
    assert len({p["country"] for p in pool.profiles}) >= 40
    assert len({f for t in pool.truth.values() for f in t["fields"]}) >= 25
    assert all(2 <= len(p["works"]) <= 8 for p in pool.profiles)


def test_ids_are_unique_and_well_formed(pool: DemoPool) -> None:
    ids = [p["id"] for p in pool.profiles]
    work_ids = [w["id"] for _, w in all_works(pool)]
    assert len(set(ids)) == len(ids)
    assert len(set(work_ids)) == len(work_ids)
    for profile in pool.profiles:
        assert re.fullmatch(r"[a-z]{2}-\d{4}", profile["id"])
        assert profile["id"][:2] == profile["country"].lower()
        expected = [f"{profile['id']}-w{i}" for i in range(1, len(profile["works"]) + 1)]
        assert [w["id"] for w in profile["works"]] == expected


def test_records_follow_the_interchange_format(pool: DemoPool) -> None:
    for profile in pool.profiles:
        assert list(profile) == PROFILE_KEYS
        assert profile["kind"] == "researcher"
        assert profile["name"].strip() and profile["institution"].strip()
        assert 1 <= profile["capacity"] <= 4
        assert profile["career_stage"] in CAREER_STAGES
        assert profile["gender"] in GENDERS
        for work in profile["works"]:
            assert list(work) == WORK_KEYS
            assert YEARS[0] <= work["year"] <= YEARS[1]


def test_every_country_code_is_iso_3166_alpha_2(pool: DemoPool) -> None:
    codes = {p["country"] for p in pool.profiles} | {c.code for c in COUNTRIES}
    assert all(pycountry.countries.get(alpha_2=code) is not None for code in codes)


def test_countries_are_skewed_and_include_widening_turkic_and_other_continents(pool: DemoPool) -> None:
    counts = Counter(p["country"] for p in pool.profiles)
    assert WIDENING_AND_TURKIC | ELSEWHERE <= set(counts)
    top = {code for code, _ in counts.most_common(8)}
    assert {"DE", "FR", "IT", "ES"} <= top
    assert counts["DE"] > 5 * counts["EE"]


def test_required_fields_exist_with_full_vocabularies() -> None:
    assert REQUIRED_FIELDS <= set(FIELDS)
    for name, vocab in FIELDS.items():
        assert set(vocab.related) <= set(FIELDS) - {name}
        assert len(vocab.terms) >= 5 and len(vocab.methods) >= 3 and len(vocab.settings) >= 3, name
        assert all(0 < low < high for _, low, high in vocab.data), name


# -- planted structure ---------------------------------------------------------------------


def test_truth_mixtures_are_distributions_over_the_works(pool: DemoPool) -> None:
    assert list(pool.truth) == [p["id"] for p in pool.profiles]
    for profile in pool.profiles:
        truth = pool.truth[profile["id"]]
        mixture = truth["fields"]
        assert set(mixture) <= set(FIELDS) and 1 <= len(mixture) <= 2
        assert sum(mixture.values()) == pytest.approx(1.0)
        assert all(isinstance(share, float) for share in mixture.values())
        labels = Counter(truth["works"][w["id"]] for w in profile["works"])
        assert set(labels) == set(mixture)
        for field, share in mixture.items():
            assert share == pytest.approx(labels[field] / len(profile["works"]), abs=1e-4)
        primary = next(iter(mixture))
        assert all(labels[primary] > count for field, count in labels.items() if field != primary)


def test_about_forty_percent_have_a_secondary_field(pool: DemoPool) -> None:
    share = sum(len(t["fields"]) == 2 for t in pool.truth.values()) / len(pool.truth)
    assert 0.35 <= share <= 0.45


def test_every_work_is_written_from_one_field_of_its_author(pool: DemoPool) -> None:
    for profile, work in all_works(pool):
        field = pool.truth[profile["id"]]["works"][work["id"]]
        assert field in pool.truth[profile["id"]]["fields"]
        text = f"{work['title']} {work['abstract']}"
        assert sum(phrase in text for phrase in FIELDS[field].phrases()) >= 3, work["id"]
        assert "{" not in text and "}" not in text


def test_keywords_come_from_the_mixture(pool: DemoPool) -> None:
    for profile in pool.profiles:
        terms = {t for f in pool.truth[profile["id"]]["fields"] for t in FIELDS[f].terms}
        assert 3 <= len(profile["keywords"]) <= 8
        assert set(profile["keywords"]) <= terms
        assert len(set(profile["keywords"])) == len(profile["keywords"])


def test_abstracts_read_like_abstracts(pool: DemoPool) -> None:
    words = []
    for _, work in all_works(pool):
        count = len(work["abstract"].split())
        sentences = re.split(r"(?<=\.)\s+", work["abstract"])
        assert ABSTRACT_WORDS[0] <= count <= min(ABSTRACT_WORDS[1], 150)
        assert 3 <= len(sentences) <= 5 and not any(s[0].islower() for s in sentences)
        assert 3 <= len(work["title"].split()) <= 25 and not work["title"][0].islower()
        words.append(count)
    assert 65 <= sum(words) / len(words) <= 100


def test_everyone_has_a_same_field_peer_abroad(pool: DemoPool) -> None:
    countries: dict[str, set[str]] = defaultdict(set)
    for profile in pool.profiles:
        for field in pool.truth[profile["id"]]["fields"]:
            countries[field].add(profile["country"])
    for profile in pool.profiles:
        fields = pool.truth[profile["id"]]["fields"]
        assert any(countries[f] - {profile["country"]} for f in fields), profile["id"]
    assert min(len(c) for c in countries.values()) >= 20


def test_institutions_are_shared_within_countries(pool: DemoPool) -> None:
    members = Counter((p["country"], p["institution"]) for p in pool.profiles)
    assert len({country for country, _ in members}) == len({p["country"] for p in pool.profiles})
    assert sum(n >= 2 for n in members.values()) / len(members) >= 0.9
    assert any(name.startswith("University of ") for _, name in members)
    assert any(not name.startswith("University of ") for _, name in members)


def test_coauthors_exist_and_are_not_the_author(pool: DemoPool, by_id: dict[str, dict[str, Any]]) -> None:
    for profile, work in all_works(pool):
        assert 0 <= len(work["coauthors"]) <= 3
        assert len(set(work["coauthors"])) == len(work["coauthors"])
        assert profile["id"] not in work["coauthors"]
        assert all(c in by_id for c in work["coauthors"])


def test_coauthors_are_mostly_same_field_some_colleagues_some_abroad(
    pool: DemoPool, by_id: dict[str, dict[str, Any]]
) -> None:
    links = same_field = colleagues = abroad = 0
    for profile, work in all_works(pool):
        field = pool.truth[profile["id"]]["works"][work["id"]]
        for other in (by_id[c] for c in work["coauthors"]):
            links += 1
            same_field += field in pool.truth[other["id"]]["fields"]
            colleagues += (other["country"], other["institution"]) == (profile["country"], profile["institution"])
            abroad += other["country"] != profile["country"]
    assert links > len(pool.profiles)
    assert same_field / links > 0.6
    assert 0.1 < colleagues / links < 0.6
    assert 0.1 < abroad / links < 0.6


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32), size=st.integers(2 * len(FIELDS), 150))
def test_small_pools_keep_the_invariants(seed: int, size: int) -> None:
    pool = generate_pool(seed=seed, n_researchers=size)
    ids = {p["id"] for p in pool.profiles}
    assert len(ids) == len(pool.profiles) == size
    for profile in pool.profiles:
        mixture = pool.truth[profile["id"]]["fields"]
        assert sum(mixture.values()) == pytest.approx(1.0)
        for work in profile["works"]:
            assert pool.truth[profile["id"]]["works"][work["id"]] in mixture
            assert set(work["coauthors"]) <= ids - {profile["id"]}


# -- files -----------------------------------------------------------------------------------


def test_write_pool_round_trips_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    pool = generate_pool(seed=5, n_researchers=120)
    target = tmp_path / "demo"
    write_pool(pool, target)
    first = {name: (target / name).read_bytes() for name in ("profiles.jsonl", "truth.json")}
    assert sorted(p.name for p in target.iterdir()) == ["profiles.jsonl", "truth.json"]
    lines = first["profiles.jsonl"].decode("utf-8").splitlines(keepends=True)
    assert all(line.endswith("\n") for line in lines)
    assert [json.loads(line) for line in lines] == pool.profiles
    assert json.loads(first["truth.json"]) == pool.truth
    assert not first["profiles.jsonl"].isascii()  # names such as "Müller" are written as they are
    write_pool(pool, target)
    assert {name: (target / name).read_bytes() for name in first} == first


def test_shipped_pool_is_exactly_what_the_generator_writes(tmp_path):
    """data/demo/ is generated, not edited by hand: `matcher demo --generate` reproduces it byte for byte."""
    from matcher.demo.shipped import DEMO_DIR, generate

    generate(tmp_path)
    for name in ("profiles.jsonl", "truth.json"):
        assert (tmp_path / name).read_bytes() == (DEMO_DIR / name).read_bytes(), name
