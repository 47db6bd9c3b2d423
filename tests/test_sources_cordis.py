"""CORDIS export pair: a small ';'-separated BOM fixture, encodings, and the real published sample."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from matcher.domain.errors import MatcherError
from matcher.domain.profiles import parse_profile, profile_to_dict
from matcher.ingest import read_source
from matcher.ingest.cordis import read_cordis

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "sources" / "cordis"
SAMPLE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cordis-horizon-sample"


def test_fixture_pair_gives_organisations_with_projects_and_partners():
    result = read_cordis(FIXTURE)
    profiles = {p.id: p for _, p in result.profiles}
    assert set(profiles) == {f"cordis-org-99900000{i}" for i in (1, 2, 3, 4)}
    auth = profiles["cordis-org-999000001"]
    assert (auth.kind, auth.country, auth.institution) == ("organisation", "GR", auth.name)  # EL -> GR
    assert profiles["cordis-org-999000002"].country == "GB"  # UK -> GB
    karst = auth.works[0]
    assert karst.id == "cordis-101100001" and karst.year == 2023
    assert karst.title == "Karst aquifers under drought; a Mediterranean network"  # ';' inside quotes
    assert 'A second paragraph with "quoted" words.' in karst.abstract  # multi-line quoted field
    assert karst.coauthors == ("cordis-org-999000002", "cordis-org-999000003")
    assert [w.id for w in auth.works] == ["cordis-101100001", "cordis-101100002"]
    for _, profile in result.profiles:
        assert parse_profile(profile_to_dict(profile, private=True)) == profile


def test_fixture_rejections_name_file_line_and_reason():
    result = read_cordis(FIXTURE)
    got = {(r.source, r.line): (r.record_id, r.field, r.reason) for r in result.rejected}
    assert got == {
        ("organization.csv", 7): ("cordis-org-999000005", "projectID",
                                  "project 101199999 is not in project.csv; row skipped"),
        ("organization.csv", 8): ("cordis-org-999000006", "projectID",
                                  "project 101100003 has no title in project.csv (line 5); row skipped"),
        ("organization.csv", 9): ("cordis-org-999000007", "country", "unknown country 'XX'"),
    }


def test_either_file_finds_its_sibling(tmp_path):
    whole = read_cordis(FIXTURE)
    assert read_cordis(FIXTURE / "project.csv").profiles == whole.profiles
    assert read_cordis(FIXTURE / "organization.csv").profiles == whole.profiles
    shutil.copy(FIXTURE / "project.csv", tmp_path / "project.csv")
    with pytest.raises(MatcherError, match="no organization.csv"):
        read_cordis(tmp_path / "project.csv")


def test_comma_separated_windows_1252_export(tmp_path):
    """Older exports: ',' as delimiter and cp1252 bytes (an é that is not UTF-8)."""
    (tmp_path / "project.csv").write_bytes(
        "id,acronym,title,startDate,objective\n"
        '7,ECO,"Économie circulaire, régions",2015-03-01,"Réemploi"\n'.encode("cp1252")
    )
    (tmp_path / "organization.csv").write_bytes(
        "projectID,organisationID,name,country\n"
        "7,1,UNIVERSITÉ DE LYON,FR\n7,2,TECHNISCHE UNIVERSITÄT WIEN,AT\n".encode("cp1252")
    )
    result = read_source(tmp_path)
    names = [p.name for _, p in result.profiles]
    assert names == ["UNIVERSITÉ DE LYON", "TECHNISCHE UNIVERSITÄT WIEN"]
    assert result.profiles[0][1].works[0].title == "Économie circulaire, régions"


def test_real_cordis_sample():
    if not SAMPLE.is_dir():
        pytest.skip(f"the shared CORDIS sample is not present at {SAMPLE}")
    start = time.perf_counter()
    result = read_source(SAMPLE)
    seconds = time.perf_counter() - start
    assert seconds < 5
    assert result.rejected == []
    profiles = {p.id: p for _, p in result.profiles}
    assert len(profiles) == 92  # distinct organisationIDs in organization.csv
    countries = {p.country for p in profiles.values()}
    assert {"GR", "GB"} <= countries and not {"EL", "UK"} & countries
    assert all(p.kind == "organisation" and p.works for p in profiles.values())
    mpg = profiles["cordis-org-999990267"]  # in several projects of the sample
    assert len(mpg.works) >= 2 and all(w.id.startswith("cordis-1") for w in mpg.works)
    partners = {c for w in mpg.works for c in w.coauthors}
    assert partners and partners <= set(profiles)
    assert result.notes == ["project.csv: 58 of 100 projects have no usable organisation rows"]
