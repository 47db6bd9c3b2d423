"""The serving process: cold start to the first answer on the demo pool, and peak RSS of a real
`matcher serve` process over a store of 100,000 profiles / 500,000 works (titles and ~100-word
abstracts; vectors synthetic, placed in the store's embedding cache), answering queries by id and by
text over HTTP with the embedding model loaded.

Two figures at 100k: `rss_100k_gib` is a restart over the built store (the corpus comes from the
vector snapshot: what a serving process normally does), `rss_100k_first_build_gib` the first start,
which also reads every vector from the cache and writes the snapshot. Peak RSS is the kernel's
high-water mark of the server process (VmHWM), not a sample.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.synthetic_corpus import synthetic_store
from matcher.service.bootstrap import model_id_for
from matcher.service.config import Config
from matcher.testing import free_port

ROOT = Path(__file__).resolve().parents[1]
IDEAS = ["groundwater contamination modelling in transboundary aquifers",
         "drought tolerant crops and irrigation scheduling under climate change",
         "hydrogen storage materials for renewable energy systems"]


class Server:
    """`matcher serve` on a free loopback port with its own MATCHER_HOME, stopped on exit."""

    def __init__(self, home: Path, scope: str = "read"):
        self.env = {**os.environ, "MATCHER_HOME": str(home), "MATCHER_RATE_LIMIT_PER_MINUTE": "1000000"}
        out = subprocess.run([sys.executable, "-m", "matcher", "keys", "create", "--scope", scope], env=self.env,
                             cwd=ROOT, check=True, capture_output=True, text=True).stdout
        self.key = out.strip().splitlines()[-1]
        self.port = free_port()

    def __enter__(self) -> Server:
        self.started = time.perf_counter()
        self.process = subprocess.Popen([sys.executable, "-m", "matcher", "serve", "--port", str(self.port)],
                                        env=self.env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(30)

    def match(self, body: dict[str, object], timeout: float = 60) -> dict[str, object]:
        return self.call("POST", "/v1/match", body, timeout=timeout)  # type: ignore[return-value]

    def call(self, method: str, path: str, body: object = None, *, timeout: float = 60) -> object:
        """One request with this server's key; the JSON answer (None for an empty one)."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"content-type": "application/json", "X-API-Key": self.key},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            data = response.read()
        return json.loads(data) if data else None

    def first_answer(self, body: dict[str, object], limit: float = 900) -> float:
        """Seconds from start to the first match answered (retrying while the server comes up)."""
        while True:
            try:
                self.match(body)
                return time.perf_counter() - self.started
            except OSError:
                if self.process.poll() is not None or time.perf_counter() - self.started > limit:
                    raise RuntimeError("the server did not answer") from None
                time.sleep(0.05)

    def peak_rss_gib(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        kib = int(status.split("VmHWM:")[1].split()[0])
        return round(kib / 1024 / 1024, 3)


def cold_start() -> float:
    """Seconds from `matcher serve` starting (store already loaded) to the first match answered."""
    with tempfile.TemporaryDirectory() as home:
        subprocess.run([sys.executable, "-m", "matcher", "demo"], env={**os.environ, "MATCHER_HOME": home}, cwd=ROOT,
                       check=True, capture_output=True)
        with Server(Path(home)) as server:
            return round(server.first_answer({"profile_id": "tr-0001", "k": 10}), 2)


def serve_100k(home: Path) -> tuple[float, float]:
    """(seconds to the first answer, peak RSS in GiB) of one server process over the 100k store."""
    with Server(home) as server:
        seconds = server.first_answer({"profile_id": "s000000", "k": 10})
        for i in range(200):
            server.match({"profile_id": f"s{i * 499 % 100_000:06d}", "k": 10})
        for i in range(20):
            server.match({"text": IDEAS[i % len(IDEAS)], "k": 10})
            server.match({"profile_id": f"s{i:06d}", "text": IDEAS[i % len(IDEAS)], "k": 10})
        return round(seconds, 1), server.peak_rss_gib()


def run() -> dict[str, object]:
    starts = [cold_start() for _ in range(3)]
    out: dict[str, object] = {
        "cold_start_s": sorted(starts)[1], "cold_start_min_s": min(starts), "cold_start_max_s": max(starts),
    }
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        started = time.perf_counter()
        synthetic_store(home, 100_000, model_id_for(Config(home=home))).close()
        out["store_100k_build_s"] = round(time.perf_counter() - started, 1)
        out["first_answer_100k_first_build_s"], out["rss_100k_first_build_gib"] = serve_100k(home)
        out["first_answer_100k_s"], out["rss_100k_gib"] = serve_100k(home)
    out["rss_100k_what"] = "peak RSS (VmHWM) of `matcher serve` over 100k profiles / 500k works, model loaded"
    return out
