"""`matcher ingest` on real formats, end to end: the real store, the real model."""

from __future__ import annotations

import json

import pytest

from .conftest import SHARED
from .test_cli import matcher

pytestmark = pytest.mark.integration
SAMPLE = SHARED / "cordis-horizon-sample"


@pytest.mark.skipif(not SAMPLE.exists(), reason="shared CORDIS sample not present")
def test_cordis_sample_becomes_organisations_that_a_text_match_finds(tmp_path):
    home = tmp_path / "store"
    result = matcher(home, "ingest", str(SAMPLE), "--format", "cordis", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["added"] > 20 and summary["rejected"] == 0
    from matcher.store.sqlite import SqliteStore as Store

    profiles = Store(home).profiles()
    assert all(p.kind == "organisation" and len(p.country) == 2 and p.works for p in profiles)
    assert any(w.coauthors for p in profiles for w in p.works)  # co-participation kept as links
    title = profiles[0].works[0].title
    found = matcher(home, "match", "--text", title, "--k", "5", "--json")
    assert found.returncode == 0, found.stderr
    ids = [s["id"] for s in json.loads(found.stdout)]
    assert profiles[0].id in ids


def test_broken_records_are_reported_precisely_and_the_rest_kept(tmp_path):
    good = {"id": "de-1", "name": "Good One", "country": "DE", "works": [{"title": "Karst aquifers"}]}
    lines = [
        json.dumps(good),
        '{"id": "de-2", "name": "Broken JSON"',
        json.dumps({**good, "id": "xx-3", "country": "Narnia"}),
        json.dumps({**good, "id": "de-4", "works": [{"abstract": "no title"}]}),
        json.dumps({**good, "id": "de-5", "orcid": "0000-0002-1825-0098"}),
        json.dumps({**good, "id": "de-6", "orcid": "0000-0002-1825-0097"}),
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = matcher(tmp_path / "store", "ingest", str(path), "--json")
    assert result.returncode == 1
    summary = json.loads(result.stdout)
    assert summary["added"] == 2 and summary["rejected"] == 4
    reasons = {r["line"]: (r["field"], r["reason"]) for r in summary["rejections"]}
    assert "not valid JSON" in reasons[2][1]
    assert reasons[3][0] == "country" and "unknown country" in reasons[3][1]
    assert reasons[4][0] == "works[0].title"
    assert reasons[5][0] == "orcid" and "check digit" in reasons[5][1]
    for line in (2, 3, 4, 5):
        assert f"mixed.jsonl:{line}" in result.stderr
