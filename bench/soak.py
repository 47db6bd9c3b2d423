"""`make soak`: the long runs of the trust checks, figures to bench/soak.json.

- crash: SIGKILL a server 50 times while it writes, erases and merges its matching state
  (tests/crash.py); count lost acknowledged writes and erased profiles still found anywhere;
- fuzz: schemathesis over every operation with many examples per operation;
- load: 60 s of POST /v1/match by id at 32 concurrent clients against the demo pool on loopback,
  with /health sampled meanwhile; p50/p95/p99, errors, and the server's peak RSS;
- abuse: read keys' match p99 while an agency key sends the heaviest consortia and an owner key
  writes once a second, over the same with nothing else going on (bench/soak_abuse.py);
- erasure: profiles erased from a live server that is then killed; files under MATCHER_HOME still
  holding any erased value (bench/soak_erasure.py);
- oversize: 2 GiB sparse inputs through `matcher ingest`: peak RSS and a clear error
  (bench/soak_oversize.py).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from bench.soak_abuse import abuse
from bench.soak_erasure import erasure
from bench.soak_oversize import oversize
from matcher.testing import served

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "soak.json"


def crash(rounds: int) -> dict[str, object]:
    sys.path.insert(0, str(ROOT))
    from tests.crash import crash_rounds

    with tempfile.TemporaryDirectory() as home:
        results = crash_rounds(Path(home) / "store", rounds, seed=1)
    return {
        "crash_runs": len(results),
        "crash_acknowledged": results[-1].acknowledged,
        "crash_lost": sum(r.lost for r in results),
        "crash_integrity_ok": all(r.integrity == "ok" for r in results),
        "crash_vectors_consistent": all(r.vectors_consistent for r in results),
        "crash_erasures_acknowledged": results[-1].erased,
        "crash_erasure_leftovers": sum(r.erasure_leftovers for r in results),
    }


def fuzz(examples: int) -> dict[str, object]:
    env = {**os.environ, "MATCHER_FUZZ_EXAMPLES": str(examples)}
    code = (
        "import sys, pytest\n"
        "from tests import test_fuzz\n"
        "rc = pytest.main(['-q', '-p', 'no:cacheprovider', 'tests/test_fuzz.py'])\n"
        "print('FUZZ', test_fuzz.CASES['count'], test_fuzz.CASES['server_errors'], int(rc))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("FUZZ"))
    _, cases, errors, rc = line.split()
    return {"fuzz_cases": int(cases), "fuzz_server_errors": int(errors), "fuzz_passed": rc == "0"}


def _rss_gib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024 / 1024
    return float("nan")


async def _load(port: int, key: str, ids: list[str], seconds: float, users: int) -> dict[str, object]:
    latencies: list[float] = []
    health: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=users + 2)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30, limits=limits) as client:

        async def user(seed: int) -> None:
            nonlocal errors
            rng = random.Random(seed)
            while time.monotonic() < deadline:
                started = time.perf_counter()
                try:
                    r = await client.post("/v1/match", json={"profile_id": rng.choice(ids), "k": 10},
                                          headers={"X-API-Key": key})
                    ok = r.status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies.append((time.perf_counter() - started) * 1000)
                errors += not ok

        async def prober() -> None:
            nonlocal errors
            while time.monotonic() < deadline:
                started = time.perf_counter()
                r = await client.get("/health")
                health.append((time.perf_counter() - started) * 1000)
                errors += r.status_code != 200
                await asyncio.sleep(0.1)

        await asyncio.gather(prober(), *(user(i) for i in range(users)))
    lat = np.asarray(latencies)
    return {
        "load_seconds": seconds, "load_users": users, "load_requests": len(latencies), "load_errors": errors,
        "load_p50_ms": round(float(np.percentile(lat, 50)), 1), "load_p95_ms": round(float(np.percentile(lat, 95)), 1),
        "load_p99_ms": round(float(np.percentile(lat, 99)), 1), "health_samples": len(health),
        "health_p99_ms": round(float(np.percentile(health, 99)), 1),
    }


def load(seconds: float, users: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "MATCHER_HOME": home, "MATCHER_RATE_LIMIT_PER_MINUTE": "10000000"}
        run = lambda *a: subprocess.run([sys.executable, "-m", "matcher", *a], env=env, cwd=ROOT,  # noqa: E731
                                        capture_output=True, text=True, check=True).stdout
        run("demo")
        key = run("keys", "create", "--scope", "read").strip().splitlines()[-1]
        ids = [json.loads(x)["id"] for x in (ROOT / "data/demo/profiles.jsonl").read_text().splitlines()]
        with served(env, ROOT) as (port, server):
            figures = asyncio.run(_load(port, key, ids, seconds, users))
            figures["peak_rss_gib"] = round(_rss_gib(server.pid), 3)
    return figures


def main() -> int:
    rounds = int(os.environ.get("SOAK_CRASH_ROUNDS", "50"))
    examples = int(os.environ.get("SOAK_FUZZ_EXAMPLES", "200"))
    seconds = float(os.environ.get("SOAK_LOAD_SECONDS", "60"))
    abuse_seconds = float(os.environ.get("SOAK_ABUSE_SECONDS", "60"))
    steps = os.environ.get("SOAK_STEPS", "load,abuse,fuzz,crash,erasure,oversize").split(",")
    figures: dict[str, object] = json.loads(OUT.read_text()) if OUT.exists() else {}  # steps not run keep theirs
    for name, step in (("load", lambda: load(seconds, 32)), ("abuse", lambda: abuse(abuse_seconds)),
                       ("fuzz", lambda: fuzz(examples)), ("crash", lambda: crash(rounds)),
                       ("erasure", erasure), ("oversize", oversize)):
        if name not in steps:
            continue
        print(f"== {name}", file=sys.stderr, flush=True)
        figures.update(step())
        print(json.dumps(figures, indent=2), file=sys.stderr)
    figures["date"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    OUT.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    print(json.dumps(figures, indent=2))
    clean = figures.get("crash_lost", 0) == 0 and figures.get("crash_erasure_leftovers", 0) == 0
    clean = clean and figures.get("erasure_residue_files", 0) == 0
    bounded = float(figures.get("oversize_inputs_peak_rss_gib", 0)) < 1  # type: ignore[arg-type]
    fair = float(figures.get("abuse_match_p99_ratio", 0)) <= 3  # type: ignore[arg-type]
    ok = clean and bounded and fair and figures.get("fuzz_server_errors", 0) == 0 and figures.get("load_errors", 0) == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
