"""Real processes on one PostgreSQL store, for tests and benchmarks: `matcher serve` replicas on
127.0.0.1 and a `matcher worker`, each with its own MATCHER_HOME, seeded with the demo pool.

    with replica_cluster(url, folder) as cluster:
        a, b = cluster.ports
        cluster.call(a, "POST", "/v1/profiles", body, key=cluster.keys["admin"])
        seconds = visibility(cluster, a, b, 1)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from matcher.testing import served, stop

__all__ = ["Cluster", "replica_cluster", "visibility"]

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Cluster:
    env: dict[str, str]
    ports: list[int] = field(default_factory=list)
    keys: dict[str, str] = field(default_factory=dict)  # label -> secret
    worker: subprocess.Popen[bytes] | None = None

    def call(self, port: int, method: str, path: str, body: Any = None, *, key: str) -> tuple[int, Any]:
        """(status, JSON body or None) of one request."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method,
                                         headers={"X-API-Key": key, "content-type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=120) as answer:
                raw = answer.read()
                return answer.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as err:
            raw = err.read()
            try:
                return err.code, json.loads(raw)
            except ValueError:
                return err.code, None

    def raw(self, port: int, path: str, *, key: str) -> bytes:
        """The body of a GET that must succeed (a file download)."""
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"X-API-Key": key})
        with urllib.request.urlopen(request, timeout=120) as answer:
            return bytes(answer.read())

    def match_ids(self, port: int, text: str, key: str) -> set[str]:
        status, body = self.call(port, "POST", "/v1/match", {"text": text, "k": 10}, key=key)
        if status != 200:
            raise RuntimeError(f"match on port {port} answered {status}: {body}")
        return {s["id"] for s in body["suggestions"]}


def _matcher(env: dict[str, str], home: Path, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "matcher", *args], env={**env, "MATCHER_HOME": str(home)},
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"matcher {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


@contextmanager
def replica_cluster(url: str, folder: Path, *, replicas: int = 2, worker: bool = True) -> Iterator[Cluster]:
    """The demo pool in the store at `url`, keys `admin`, `agency-1`, `agency-2`, then `replicas`
    servers and a worker, all stopped on exit."""
    env = {**os.environ, "MATCHER_STORE": url, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1"}
    cluster = Cluster(env)
    _matcher(env, folder / "seed", "demo", "--if-empty")
    for scope, label in (("admin", "admin"), ("agency", "agency-1"), ("agency", "agency-2")):
        cluster.keys[label] = _matcher(env, folder / "seed", "keys", "create", "--scope", scope, "--label",
                                       label).strip().splitlines()[-1]
    with ExitStack() as stack:
        for i in range(replicas):
            port, process = stack.enter_context(served({**env, "MATCHER_HOME": str(folder / f"replica-{i}")}, ROOT))
            if process.poll() is not None:
                raise RuntimeError(f"replica {i} exited with code {process.returncode}")
            cluster.ports.append(port)
        if worker:
            cluster.worker = subprocess.Popen([sys.executable, "-m", "matcher", "worker", "--poll", "0.2"],
                                              env={**env, "MATCHER_HOME": str(folder / "worker")}, cwd=ROOT,
                                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            stack.callback(stop, cluster.worker)
        for port in cluster.ports:  # every replica answers a text query (its model loaded)
            cluster.match_ids(port, "groundwater contamination in aquifers", cluster.keys["admin"])
        yield cluster


def visibility(cluster: Cluster, source: int, target: int, n: int, *, limit_s: float = 30.0) -> float:
    """Seconds from a profile written on `source` (the POST answered) to its being suggested by
    `target` for its own words; profile `n` of a run (ids and words unique per n)."""
    word = "".join(chr(ord("a") + int(d)) for d in f"{n:04d}")
    profile = {"id": f"replica-probe-{n}", "name": f"Probe {n}", "country": "PT", "works": [
        {"title": f"{word}zyme hydrothermal vent {word}phage genomics",
         "abstract": f"Deep sea {word}zyme and {word}phage communities sampled at hydrothermal vents."}]}
    text = f"{word}zyme {word}phage hydrothermal vent genomics"
    status, body = cluster.call(source, "POST", "/v1/profiles", profile, key=cluster.keys["admin"])
    if status != 201:
        raise RuntimeError(f"writing the probe answered {status}: {body}")
    started = time.perf_counter()
    while time.perf_counter() - started < limit_s:
        if profile["id"] in cluster.match_ids(target, text, cluster.keys["admin"]):
            return time.perf_counter() - started
        time.sleep(0.02)
    raise RuntimeError(f"{profile['id']} written on port {source} was not suggested on {target} in {limit_s} s")
