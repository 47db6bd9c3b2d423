"""Crash safety: kill -9 a server while it writes, erases and merges its matching state, restart it,
and check that nothing acknowledged was lost (no write, no erasure), the database is intact, and
the matching state agrees with it. The server merges after every few writes, so kills land in the
middle of merges and snapshot writes too. Used by the test suite (a few rounds) and by `make soak`
(many rounds, figures to bench/soak.json)."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from matcher.testing import free_port

__all__ = ["CrashRound", "crash_rounds"]

SERVER = """
import sys, uvicorn
from api.app import create_app
from api.settings import ApiConfig
from matcher.service.config import Config
from matcher.index.state import StatePolicy
from matcher.service.bootstrap import bootstrap
from matcher.testing import FakeEmbedder
fake = FakeEmbedder()
home = sys.argv[1]
policy = StatePolicy(fold_rows=int(sys.argv[3]), fold_share=0.0, poll_seconds=0.2)
services = bootstrap(Config(home=__import__("pathlib").Path(home)), embedder_factory=lambda: fake,
                     model_id=fake.model_id, policy=policy)
app = create_app(services.config, services=services, api=ApiConfig(rate_limit_per_minute=1_000_000))
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", access_log=False)
"""


@dataclass(frozen=True)
class CrashRound:
    acknowledged: int
    lost: int
    integrity: str
    vectors_consistent: bool
    erased: int = 0  # erasures acknowledged so far
    erasure_leftovers: int = 0  # erased profiles still found in the database or in a state file
    snapshots_written: int = 0


def _start(home: Path, port: int, fold_rows: int = 20) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(home), str(port), str(fold_rows)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start")


def _profile(i: int) -> bytes:
    words = ["aquifer", "drought", "neural", "vaccine", "soil", "quantum", "heritage", "hydrogen"]
    return json.dumps({
        "id": f"crash-{i:05d}", "name": f"Writer {i}", "country": ["DE", "FR", "TR", "KE"][i % 4],
        "works": [{"title": f"{words[i % 8]} study {i}", "abstract": " ".join(words[(i + j) % 8] for j in range(20))}],
    }).encode()


def _writer(port: int, key: str, start: int, acked: list[str], stop: threading.Event) -> None:
    i = start
    while not stop.is_set():
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/profiles", data=_profile(i), method="POST",
            headers={"content-type": "application/json", "X-API-Key": key},
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                if response.status == 201:
                    acked.append(f"crash-{i:05d}")
        except (OSError, urllib.error.HTTPError):
            return  # the server died under us: this write was never acknowledged
        i += 1


def _eraser(port: int, key: str, start: int, erased: list[str], stop: threading.Event) -> None:
    """Write a profile, then erase it; an erasure counts once its DELETE was acknowledged."""
    i = start
    while not stop.is_set():
        body = json.loads(_profile(i))
        body.update(id=f"erase-{i:05d}", name=f"Erased Person {i:05d}")
        headers = {"content-type": "application/json", "X-API-Key": key}
        try:
            urllib.request.urlopen(urllib.request.Request(
                f"http://127.0.0.1:{port}/v1/profiles", data=json.dumps(body).encode(), method="POST", headers=headers,
            ), timeout=5)
            with urllib.request.urlopen(urllib.request.Request(
                f"http://127.0.0.1:{port}/v1/profiles/erase-{i:05d}", method="DELETE", headers=headers,
            ), timeout=5) as response:
                if response.status == 204:
                    erased.append(f"Erased Person {i:05d}")
        except (OSError, urllib.error.HTTPError):
            return
        i += 1


def _admin_key(home: Path) -> str:
    env = {**os.environ, "MATCHER_HOME": str(home)}
    out = subprocess.run([sys.executable, "-m", "matcher", "keys", "create", "--scope", "admin"], env=env,
                         capture_output=True, text=True, check=True).stdout
    return out.strip().splitlines()[-1]


def _check(home: Path, acked: list[str], erased: list[str]) -> CrashRound:
    from matcher.service.bootstrap import bootstrap
    from matcher.service.config import Config
    from matcher.testing import FakeEmbedder

    db = sqlite3.connect(home / "matcher.sqlite3")
    integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
    present = {row[0] for row in db.execute("SELECT id FROM profiles")}
    names = {row[0] for row in db.execute("SELECT name FROM profiles")}
    db.close()
    snapshots = len(list((home / "state").glob("*/g*")))
    fake = FakeEmbedder()
    engine = bootstrap(Config(home=home), embedder_factory=lambda: fake, model_id=fake.model_id).engine
    corpus = engine.corpus()  # the snapshot (verified) plus the changes since; erasures merged away
    consistent = sorted(corpus.row_of) == sorted(present) and corpus.n_active == len(present)
    engine.store.close()
    files = b"".join(p.read_bytes() for p in (home / "state").rglob("*") if p.is_file())
    leftovers = sum(name in names or name.encode() in files for name in erased)
    return CrashRound(len(acked), len([a for a in acked if a not in present]), str(integrity), consistent,
                      len(erased), leftovers, snapshots)


def crash_rounds(home: Path, rounds: int, *, seed: int = 0) -> list[CrashRound]:
    """`rounds` times: start the server on `home`, write from two clients, SIGKILL it at a random moment."""
    rng = random.Random(seed)
    key = _admin_key(home)
    results = []
    acked: list[str] = []
    erased: list[str] = []
    next_id = 0
    for _ in range(rounds):
        port = free_port()
        proc = _start(home, port)
        stop = threading.Event()
        mine: list[str] = []
        gone: list[str] = []
        writers = [threading.Thread(target=_writer, args=(port, key, next_id + w * 100_000, mine, stop))
                   for w in range(2)]
        writers.append(threading.Thread(target=_eraser, args=(port, key, next_id, gone, stop)))
        for w in writers:
            w.start()
        time.sleep(rng.uniform(0.2, 1.5))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        stop.set()
        for w in writers:
            w.join()
        acked.extend(mine)
        erased.extend(gone)
        next_id += 1000
        results.append(_check(home, acked, erased))
    return results
