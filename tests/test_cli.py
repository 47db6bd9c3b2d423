"""The `matcher` command as a user runs it: a real process, the real store and model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .test_readers import write_broken_jsonl

pytestmark = pytest.mark.integration


def matcher(home: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MATCHER_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "matcher", *args], capture_output=True, text=True, env=env, timeout=timeout
    )


@pytest.mark.parametrize(
    "command",
    ["", "ingest", "match", "erase", "serve", "demo", "state", "state status", "state merge", "migrate", "worker"],
)
def test_every_command_has_help_with_substance(tmp_path, command):
    result = matcher(tmp_path, *command.split(), "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout and len(result.stdout) > 300


def test_ingest_keeps_valid_reports_broken_and_is_idempotent(tmp_path):
    path = tmp_path / "pool.jsonl"
    write_broken_jsonl(path)
    home = tmp_path / "store"
    first = matcher(home, "ingest", str(path))
    assert first.returncode == 1
    assert "read 100, added 97, updated 0, unchanged 0, merged 0, rejected 3" in first.stdout
    for line in ("pool.jsonl:10", "pool.jsonl:42", "pool.jsonl:77"):
        assert line in first.stderr
    again = matcher(home, "ingest", str(path), "--json")
    assert again.returncode == 1
    summary = json.loads(again.stdout)
    assert (summary["added"], summary["updated"], summary["unchanged"], summary["rejected"]) == (0, 0, 97, 3)
    assert [r["line"] for r in summary["rejections"]] == [10, 42, 77]


def test_usage_errors_exit_2_and_failures_exit_1(tmp_path):
    assert matcher(tmp_path, "match").returncode == 2
    assert matcher(tmp_path, "match", "--k", "lots").returncode == 2
    missing = matcher(tmp_path, "ingest", str(tmp_path / "nope.jsonl"))
    assert missing.returncode == 1 and "no such file" in missing.stderr
    empty = matcher(tmp_path / "empty", "match", "--text", "anything")
    assert empty.returncode == 1 and "store is empty" in empty.stderr
    assert "Traceback" not in missing.stderr + empty.stderr
