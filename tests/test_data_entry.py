"""Data entry people can act on: every fault of a rejected record, duplicates across ingests,
stdin, and the command line's own answers (version, JSON listings, help with examples)."""

from __future__ import annotations

import json

import pytest

from matcher.domain.errors import InvalidProfile
from matcher.domain.profiles import parse_profile
from matcher.service import profiles

BAD = {"id": "xx-1", "name": "Nobody", "country": "Atlantis", "works": []}


def test_a_rejected_record_names_every_fault():
    with pytest.raises(InvalidProfile) as caught:
        parse_profile(BAD)
    reason = caught.value.reason
    assert "unknown country 'Atlantis'" in reason
    assert "at least one work or keyword" in reason
    assert caught.value.field == "works" and "country: unknown country" in reason


def test_a_record_with_one_fault_reads_as_before():
    with pytest.raises(InvalidProfile) as caught:
        parse_profile({**BAD, "works": [{"title": "Karst"}]})
    assert (caught.value.field, caught.value.reason) == ("country", "unknown country 'Atlantis'")


def test_ingest_and_import_reports_carry_every_fault(fake_services, tmp_path):
    path = tmp_path / "pool.jsonl"
    path.write_text(json.dumps(BAD) + "\n")
    for report in (profiles.ingest(fake_services, path),
                   profiles.import_upload(fake_services, path.read_bytes(), "jsonl", key_id=None, scope=None)):
        (rejection,) = report.rejections
        assert "Atlantis" in str(rejection) and "work or keyword" in str(rejection)
        assert "Atlantis" in report.as_dict()["rejections"][0]["reason"]
