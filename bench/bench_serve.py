"""The serving process: cold start to the first answer on the demo pool, and peak RSS of a process
that holds a 100,000-profile / 500,000-work corpus and answers queries."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from matcher.testing import free_port

ROOT = Path(__file__).resolve().parents[1]

HOLD_100K = """
import resource, sys
sys.path.insert(0, sys.argv[1])
from bench.synthetic_corpus import synthetic_corpus
from matcher.matching import PreparedQuery, match
corpus = synthetic_corpus(100_000)
for i in range(50):
    match(corpus, PreparedQuery(requester=i * 997, k=10))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def cold_start() -> float:
    """Seconds from `matcher serve` starting (store already loaded) to the first match answered."""
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "MATCHER_HOME": home}
        subprocess.run([sys.executable, "-m", "matcher", "demo"], env=env, cwd=ROOT, check=True, capture_output=True)
        out = subprocess.run([sys.executable, "-m", "matcher", "keys", "create", "--scope", "read"], env=env,
                             cwd=ROOT, check=True, capture_output=True, text=True).stdout
        key = out.strip().splitlines()[-1]
        port = free_port()
        started = time.perf_counter()
        server = subprocess.Popen([sys.executable, "-m", "matcher", "serve", "--port", str(port)], env=env, cwd=ROOT,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        body = json.dumps({"profile_id": "tr-0001", "k": 10}).encode()
        try:
            while True:
                try:
                    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/match", data=body, headers={
                        "content-type": "application/json", "X-API-Key": key})
                    with urllib.request.urlopen(request, timeout=5) as response:
                        if response.status == 200:
                            return round(time.perf_counter() - started, 2)
                except OSError:
                    if time.perf_counter() - started > 300:
                        raise
                    time.sleep(0.05)
        finally:
            server.terminate()
            server.wait(30)


def rss_100k_gib() -> float:
    out = subprocess.run([sys.executable, "-c", HOLD_100K, str(ROOT)], capture_output=True, text=True, check=True)
    return round(int(out.stdout.strip().splitlines()[-1]) / 1024 / 1024, 3)


def run() -> dict[str, object]:
    starts = [cold_start() for _ in range(3)]
    return {
        "cold_start_s": sorted(starts)[1], "cold_start_min_s": min(starts), "cold_start_max_s": max(starts),
        "rss_100k_gib": rss_100k_gib(),
    }
