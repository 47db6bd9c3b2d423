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
