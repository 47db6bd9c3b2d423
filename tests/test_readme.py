"""The README's commands work: its curl examples against a live server, its CLI examples on the demo."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from matcher.testing import free_port

from .conftest import ROOT

pytestmark = pytest.mark.integration

README = (ROOT / "README.md").read_text()


def bash_blocks() -> list[str]:
    return re.findall(r"```bash\n(.*?)```", README, flags=re.S)


def commands(prefix: str) -> list[str]:
    joined = "\n".join(bash_blocks()).replace("\\\n", " ")
    return [line.split("  #")[0].strip() for line in joined.splitlines() if line.strip().startswith(prefix)]


def test_readme_opens_with_the_two_commands():
    first = bash_blocks()[0].splitlines()
    assert [line.split("#")[0].strip() for line in first] == ["make run", "make test"]


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("readme-store")
    env = {**os.environ, "MATCHER_HOME": str(home)}
    subprocess.run([sys.executable, "-m", "matcher", "demo"], check=True, env=env, capture_output=True, timeout=600)
    return home


@pytest.fixture(scope="module")
def server(demo_home):
    port = free_port()
    env = {**os.environ, "MATCHER_HOME": str(demo_home)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "matcher", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
            break
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(proc.stderr.read().decode()) from None
            time.sleep(0.5)
    yield port
    proc.terminate()
    proc.wait(timeout=30)


def _key(demo_home: Path) -> str:
    env = {**os.environ, "MATCHER_HOME": str(demo_home)}
    out = subprocess.run([sys.executable, "-m", "matcher", "keys", "create", "--scope", "read"], env=env,
                         capture_output=True, text=True, check=True).stdout
    return out.strip().splitlines()[-1]  # the key is the last line


def test_readme_curl_examples(server, demo_home):
    key = _key(demo_home)
    curls = commands("curl")
    assert len(curls) >= 3
    for line in curls:
        args = shlex.split(line.replace("localhost:8000", f"127.0.0.1:{server}").replace("$KEY", key))
        out = subprocess.run(args, capture_output=True, text=True, timeout=120, check=True).stdout
        body = json.loads(out)
        assert body["suggestions"], line
        for s in body["suggestions"]:
            assert {"id", "name", "country", "score", "explanation"} <= s.keys()
        if '"profile_id": "tr-0001"' in line:
            assert "TR" not in {s["country"] for s in body["suggestions"]}
    first = curls[0].replace("localhost:8000", f"127.0.0.1:{server}").replace("$KEY", key)
    by_id = json.loads(subprocess.run(shlex.split(first), capture_output=True, text=True, check=True).stdout)
    assert len(by_id["suggestions"]) == 10


def test_readme_cli_examples(demo_home, tmp_path):
    env = {**os.environ, "MATCHER_HOME": str(demo_home), "PYTHONPATH": str(ROOT)}
    for line in commands(".venv/bin/matcher"):
        args = shlex.split(line)
        if args[1] in ("ingest", "eval"):
            continue  # these name a user's own files
        if args[1] == "tune":
            continue  # a full training run (minutes); tests/test_tuning.py runs a bounded one on the demo store
        result = subprocess.run([sys.executable, "-m", "matcher", *args[1:]], capture_output=True, text=True,
                                env=env, timeout=300, cwd=tmp_path)  # outputs such as --out out/ land here
        assert result.returncode == 0, (line, result.stderr)
        if "--json" in args and args[1] == "match":
            items = json.loads(result.stdout)
            assert len(items) == 10
            assert all({"id", "name", "country", "score", "explanation"} <= i.keys() for i in items)
        if "--json" in args and args[1] == "consortium":
            teams = json.loads(result.stdout)["teams"]
            assert len(teams) == 3 and all(len(t["members"]) == 5 for t in teams)
        if args[1] == "batch":
            out = tmp_path / args[args.index("--out") + 1]
            assert (out / "pairs.csv").exists() and (out / "report.html").exists()
