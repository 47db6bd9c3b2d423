"""The abuse phase of `make soak`: do read keys keep their match latency while others push?

A real server on the demo pool (loopback). Read keys send paced matches by id (`users` keys, each
`rate` a second: well within the rate limit) for `seconds` while nothing else happens (idle), then
again while an agency key sends the heaviest consortium requests the API allows (size 30, 10
teams, 30 aspects of 2,000 characters, new texts each time, from 3 connections at once) and an
owner key replaces its profile once a second. The figure is the ratio of the p99s (<= 3).
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

from matcher.testing import served

ROOT = Path(__file__).resolve().parents[1]


def _heaviest_call(rng: random.Random, words: list[str]) -> dict[str, object]:
    def aspect() -> dict[str, object]:
        text = " ".join(rng.choice(words) for _ in range(400))[:2000]
        return {"text": text, "weight": 1.0}

    return {"aspects": [aspect() for _ in range(30)], "size": 30, "teams": 10}


async def _phase(
    port: int, read_keys: list[str], ids: list[str], seconds: float, rate: float,
    agency: str | None, owner: tuple[str, dict[str, object]] | None, words: list[str],
) -> dict[str, object]:
    latencies: list[float] = []
    statuses: dict[str, dict[int, int]] = {"match": {}, "consortium": {}, "write": {}}
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=len(read_keys) + 8)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120, limits=limits) as client:

        def count(kind: str, status: int) -> None:
            statuses[kind][status] = statuses[kind].get(status, 0) + 1

        async def reader(key: str, seed: int) -> None:
            rng = random.Random(seed)
            await asyncio.sleep(rng.random() / rate)
            while time.monotonic() < deadline:
                started = time.perf_counter()
                r = await client.post("/v1/match", json={"profile_id": rng.choice(ids), "k": 10},
                                      headers={"X-API-Key": key})
                took = time.perf_counter() - started
                latencies.append(took * 1000)
                count("match", r.status_code)
                await asyncio.sleep(max(0.0, 1 / rate - took))

        async def pusher(seed: int) -> None:
            rng = random.Random(seed)
            while time.monotonic() < deadline:
                try:
                    r = await client.post("/v1/consortia", json=_heaviest_call(rng, words),
                                          headers={"X-API-Key": agency}, timeout=600)
                except httpx.TimeoutException:
                    count("consortium", 0)  # 0: no answer within the client's patience
                    continue
                count("consortium", r.status_code)
                if r.status_code in (429, 503):
                    await asyncio.sleep(min(float(r.headers.get("Retry-After", "1")), 5.0))

        async def writer() -> None:
            assert owner is not None
            key, profile = owner
            n = 0
            while time.monotonic() < deadline:
                n += 1
                body = {**profile, "keywords": [f"revision {n}"]}
                r = await client.put(f"/v1/profiles/{profile['id']}", json=body, headers={"X-API-Key": key})
                count("write", r.status_code)
                await asyncio.sleep(1.0)

        tasks = [reader(k, i) for i, k in enumerate(read_keys)]
        if agency is not None:
            tasks += [pusher(100 + i) for i in range(3)]
        if owner is not None:
            tasks.append(writer())
        await asyncio.gather(*tasks)
    lat = np.asarray(latencies)
    return {"p50_ms": round(float(np.percentile(lat, 50)), 1), "p99_ms": round(float(np.percentile(lat, 99)), 1),
            "requests": len(latencies), "statuses": statuses}


def abuse(seconds: float = 60.0, users: int = 8, rate: float = 4.0) -> dict[str, object]:
    """`abuse_match_p99_ratio` and the figures behind it."""
    profiles = [json.loads(x) for x in (ROOT / "data/demo/profiles.jsonl").read_text().splitlines()]
    ids = [p["id"] for p in profiles]
    words = " ".join(w["abstract"] for p in profiles[:300] for w in p.get("works", []) if w.get("abstract")).split()
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "MATCHER_HOME": home}
        run = lambda *a: subprocess.run([sys.executable, "-m", "matcher", *a], env=env, cwd=ROOT,  # noqa: E731
                                        capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
        run("demo")
        read_keys = [run("keys", "create", "--scope", "read") for _ in range(users)]
        agency = run("keys", "create", "--scope", "agency")
        owner_profile = profiles[0]
        owner = run("keys", "create", "--scope", "owner", "--owner", owner_profile["id"])
        with served(env, ROOT) as (port, _):
            asyncio.run(_phase(port, read_keys, ids, 5, rate, None, None, words))  # warm-up
            idle = asyncio.run(_phase(port, read_keys, ids, seconds, rate, None, None, words))
            pushed = asyncio.run(_phase(port, read_keys, ids, seconds, rate, agency, (owner, owner_profile), words))
    return {
        "abuse_match_p99_ratio": round(pushed["p99_ms"] / idle["p99_ms"], 2),  # type: ignore[operator]
        "abuse_idle_match_p50_ms": idle["p50_ms"], "abuse_idle_match_p99_ms": idle["p99_ms"],
        "abuse_match_p50_ms": pushed["p50_ms"], "abuse_match_p99_ms": pushed["p99_ms"],
        "abuse_seconds": seconds, "abuse_read_keys": users, "abuse_statuses": pushed["statuses"],
    }


if __name__ == "__main__":
    print(json.dumps(abuse(float(os.environ.get("SOAK_ABUSE_SECONDS", "60"))), indent=2))
