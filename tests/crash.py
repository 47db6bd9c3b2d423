"""Crash safety: kill -9 a server while it writes, restart it, and check that nothing acknowledged
was lost, the database is intact and the vectors agree with it. Used by the test suite (a few
rounds) and by `make soak` (many rounds, figures to bench/soak.json)."""

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
from matcher.config import Config
from matcher.engine import Engine
from matcher.testing import FakeEmbedder
fake = FakeEmbedder()
home = sys.argv[1]
engine = Engine(Config(home=__import__("pathlib").Path(home)), embedder_factory=lambda: fake, model_id=fake.model_id)
app = create_app(engine.config, engine=engine, api=ApiConfig(rate_limit_per_minute=1_000_000))
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", access_log=False)
"""


@dataclass(frozen=True)
class CrashRound:
    acknowledged: int
    lost: int
    integrity: str
    vectors_consistent: bool


def _start(home: Path, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(home), str(port)],
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


def _admin_key(home: Path) -> str:
    env = {**os.environ, "MATCHER_HOME": str(home)}
    out = subprocess.run([sys.executable, "-m", "matcher", "keys", "create", "--scope", "admin"], env=env,
                         capture_output=True, text=True, check=True).stdout
    return out.strip().splitlines()[-1]


def _check(home: Path, acked: list[str]) -> CrashRound:
    from matcher.config import Config
    from matcher.engine import Engine
    from matcher.testing import FakeEmbedder

    db = sqlite3.connect(home / "matcher.sqlite3")
    integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
    present = {row[0] for row in db.execute("SELECT id FROM profiles")}
    db.close()
    fake = FakeEmbedder()
    engine = Engine(Config(home=home), embedder_factory=lambda: fake, model_id=fake.model_id)
    corpus = engine.corpus()  # verifies the snapshot against the database, rebuilds it if they disagree
    consistent = set(corpus.ids) == present and len(corpus.work_vectors) == len(corpus.work_ids)
    engine.store.close()
    return CrashRound(len(acked), len([a for a in acked if a not in present]), str(integrity), consistent)


def crash_rounds(home: Path, rounds: int, *, seed: int = 0) -> list[CrashRound]:
    """`rounds` times: start the server on `home`, write from two clients, SIGKILL it at a random moment."""
    rng = random.Random(seed)
    key = _admin_key(home)
    results = []
    acked: list[str] = []
    next_id = 0
    for _ in range(rounds):
        port = free_port()
        proc = _start(home, port)
        stop = threading.Event()
        mine: list[str] = []
        writers = [threading.Thread(target=_writer, args=(port, key, next_id + w * 100_000, mine, stop))
                   for w in range(2)]
        for w in writers:
            w.start()
        time.sleep(rng.uniform(0.2, 1.5))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        stop.set()
        for w in writers:
            w.join()
        acked.extend(mine)
        next_id += 1000
        results.append(_check(home, acked))
    return results
