"""Data entry people can act on: every fault of a rejected record, duplicates across ingests,
stdin, and the command line's own answers (version, JSON listings, help with examples)."""

from __future__ import annotations

import json
import subprocess
import sys

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


def _cli(*args: str, stdin: bytes | None = None):
    from typer.testing import CliRunner

    from matcher.cli.main import app

    return CliRunner().invoke(app, list(args), input=stdin, env={"COLUMNS": "120"})


def test_version():
    from matcher import __version__

    result = _cli("--version")
    assert result.exit_code == 0 and result.stdout.strip() == f"matcher {__version__}"


COMMANDS = ["", "ingest", "match", "erase", "serve", "demo", "consortium", "batch", "eval", "eval consortia",
            "eval expertise", "eval synthetic", "keys", "keys create", "keys list", "keys revoke", "state",
            "state status", "state merge"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_help_has_examples(command):
    result = _cli(*command.split(), "--help")
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "Example" in text
    after = text[text.index("Example"):]
    assert f"matcher {command}".strip() in after, after


def test_demo_help_states_the_pool_as_shipped():
    from pathlib import Path

    lines = (Path(__file__).parents[1] / "data/demo/profiles.jsonl").read_text().splitlines()
    countries = {json.loads(line)["country"] for line in lines}
    text = _cli("demo", "--help").stdout
    assert f"{len(lines):,} researchers, {len(countries)} countries" in " ".join(text.split())


def test_xlsx_without_a_mapping_says_what_a_mapping_is(tmp_path):
    from matcher.domain.errors import MatcherError
    from matcher.ingest.detect import read_source

    form = tmp_path / "form.xlsx"
    form.write_bytes(b"PK\x03\x04")
    with pytest.raises(MatcherError) as caught:
        read_source(form)
    message = str(caught.value)
    assert "--map" in message and "id: " in message and "works: " in message
    assert "matcher.ingest" not in message


def test_ingest_reads_stdin_with_or_without_format(fake_services):
    from io import BytesIO

    good = {"id": "de-1", "name": "Good One", "country": "DE", "works": [{"title": "Karst aquifers"}]}
    body = (json.dumps(good) + "\n" + json.dumps(BAD) + "\n").encode()
    for fmt in (None, "jsonl"):
        report = profiles.ingest_stream(fake_services, BytesIO(body), fmt)
        assert report.read == 2 and report.rejected == 1 and str(report.rejections[0]).startswith("stdin")
    csv = b"id,name,country,keywords\nfr-1,Une Autre,FR,karst;caves\n"
    assert profiles.ingest_stream(fake_services, BytesIO(csv)).added == 1
    assert fake_services.store.exists("fr-1")


def test_ingest_dash_on_the_command_line(tmp_path):
    good = {"id": "de-1", "name": "Good One", "country": "DE", "keywords": ["karst"]}
    command = [sys.executable, "-m", "matcher", "ingest", "-", "--json", "--home", str(tmp_path / "store")]
    result = subprocess.run(command, input=json.dumps(good) + "\n", capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["added"] == 1


def test_keys_list_json(tmp_path):
    home = str(tmp_path / "store")
    assert _cli("keys", "create", "--scope", "read", "--label", "portal", "--home", home).exit_code == 0
    result = _cli("keys", "list", "--json", "--home", home)
    assert result.exit_code == 0, result.output
    (key,) = json.loads(result.stdout)
    assert (key["scope"], key["label"], key["owner"]) == ("read", "portal", None) and key["key_id"]


ORCID = "0000-0002-1825-0097"


def _person(pid: str, **extra: str) -> dict:
    return {"id": pid, "name": "Ayşe Yılmaz", "country": "TR", "keywords": ["karst"], **extra}


@pytest.mark.parametrize("kind", ["sqlite", "memory"])
def test_store_finds_profiles_by_orcid_or_openalex_id(kind, tmp_path):
    from matcher.store.sqlite import SqliteStore
    from matcher.testing.memory import MemoryStore

    store = {"sqlite": SqliteStore, "memory": MemoryStore}[kind](tmp_path)
    store.upsert([parse_profile(_person("a", orcid=ORCID)), parse_profile(_person("b", openalex="A123")),
                  parse_profile(_person("c"))])
    assert store.with_identifiers({ORCID}, {"A123", "A999"}) == [("a", "orcid", ORCID), ("b", "openalex", "A123")]
    assert store.with_identifiers(set(), set()) == [] and store.with_identifiers({"x"}, {"y"}) == []
    store.close()


def test_the_same_orcid_in_three_files_is_stored_once_and_reported_with_both_ids(fake_services, tmp_path):
    files = []
    for name, pid in (("first.jsonl", "tr-1"), ("second.jsonl", "orcid-1"), ("third.jsonl", "oa-1")):
        files.append(tmp_path / name)
        files[-1].write_text(json.dumps(_person(pid, orcid=ORCID)) + "\n")
    assert profiles.ingest(fake_services, files[0]).added == 1
    for path, pid in zip(files[1:], ("orcid-1", "oa-1"), strict=True):
        report = profiles.ingest(fake_services, path)
        assert (report.added, report.rejected) == (0, 1)
        text = str(report.rejections[0])
        assert "'tr-1'" in text and f"'{pid}'" in text and ORCID in text and path.name in text
    assert fake_services.store.with_identifiers({ORCID}, set()) == [("tr-1", "orcid", ORCID)]
    assert not fake_services.store.exists("orcid-1") and not fake_services.store.exists("oa-1")
    again = profiles.ingest(fake_services, files[0])  # the same record again is no conflict
    assert (again.unchanged, again.rejected) == (1, 0)
    upload = profiles.import_upload(fake_services, files[1].read_bytes(), "jsonl", key_id=None, scope=None)
    assert upload.rejected == 1 and "'tr-1'" in str(upload.rejections[0])


def test_openalex_id_across_ingests_but_different_orcids_are_two_people(fake_services, tmp_path):
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_text(json.dumps(_person("oa-1", openalex="A42")) + "\n")
    other_orcid = "0000-0001-5109-3700"
    second.write_text(json.dumps(_person("oa-2", openalex="A42")) + "\n"
                      + json.dumps(_person("oa-3", openalex="A7", orcid=other_orcid)) + "\n")
    profiles.ingest(fake_services, first)
    report = profiles.ingest(fake_services, second)
    assert report.rejected == 1 and "'oa-1'" in str(report.rejections[0]) and "A42" in str(report.rejections[0])
    assert report.added == 1
