"""The matching state at 100,000 profiles / 500,000 works (section `state`): real `matcher serve`
and `matcher` CLI processes over a real store (titles and ~100-word abstracts; vectors synthetic,
placed in the store's embedding cache; the model loaded for texts written during the run).

- `restart_100k_s`: `matcher serve` start to the first match answered (median of 3 restarts).
- `cli_match_100k_s`: one-shot `matcher match --id ... --json`, process start to exit (median of 3).
- `add_one_100k_ms`: POST of a new profile (embedded by the server) to its first appearance in a
  match by its title, p50 of 10. `delete_one_100k_ms`: DELETE to absent from that match, p50 of 10.
- `erase_files_100k_s`: DELETE of a profile held by the snapshot to no file under the state folder
  holding its name or words (the erasure's merge, in a separate process, and the swap).
- `match_p99_during_writes_ratio`: match-by-id p99 while an owner key rewrites its profile once a
  second, over the idle p99 of the same client loop; `match_p99_during_ingest_ratio`: the same
  while `matcher ingest` adds 10,000 profiles (their vectors already cached) and folds them in.
- `first_build_100k_s`, `merge_100k_s`, `refit_100k_s`: `matcher state merge` on a store without a
  snapshot, after the run's writes, and with --refit.
- `int8_*`: int8 vectors of the same texts from two kernels' quantised models (the AVX2 profile's
  QUInt8 weights and the AVX-512 VNNI profile's QInt8 weights, both run here) and the shipped demo
  vectors (made on an AVX-512 VNNI machine), each against torch fp32, and against each other.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

from bench.bench_serve import ROOT, Server
from bench.synthetic_corpus import synthetic_profiles, synthetic_store, synthetic_vectors
from matcher.domain.profiles import profile_to_dict
from matcher.index.segment import corpus_texts
from matcher.service.bootstrap import model_id_for
from matcher.service.config import Config
from matcher.store.base import text_hash
from matcher.store.sqlite import SqliteStore as Store

__all__ = ["run"]

N = int(os.environ.get("BENCH_STATE_PROFILES", 100_000))  # smaller only for a dry run of the bench itself
LOOP_SECONDS = float(os.environ.get("BENCH_STATE_LOOP_SECONDS", 30))


def _cli(home: Path, *args: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "matcher", *args], env={**os.environ, "MATCHER_HOME": str(home)},
                   cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - started


def _loop(server: Server, seconds: float, until: threading.Event | None = None) -> np.ndarray:
    """Match-by-id latencies (ms) of one closed-loop client, for `seconds` (or until `until`)."""
    rng = np.random.default_rng(7)
    out = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline if until is None else not until.is_set():
        body = {"profile_id": f"s{int(rng.integers(N)):06d}", "k": 10}
        start = time.perf_counter()
        server.match(body)
        out.append((time.perf_counter() - start) * 1000)
    return np.asarray(out)


def _unique(i: int, word: str) -> dict[str, object]:
    return {"id": f"bench-{word}-{i}", "name": f"{word.title()} Person {i}", "country": "PT", "works": [
        {"title": f"{word} hydrothermal vent microbiology {i}",
         "abstract": f"We sampled {word} microbial mats at deep hydrothermal vents and sequenced {word} genomes."}]}


def _title(body: dict[str, object]) -> str:
    return str(body["works"][0]["title"])  # type: ignore[index]


def _first_seen(server: Server, text: str, pid: str, present: bool, limit: float = 30) -> float:
    """Seconds until a match by `text` does (or no longer does) contain `pid`."""
    started = time.perf_counter()
    while time.perf_counter() - started < limit:
        ids = {s["id"] for s in server.match({"text": text, "k": 10})["suggestions"]}  # type: ignore[index]
        if (pid in ids) == present:
            return time.perf_counter() - started
    raise RuntimeError(f"{pid} {'never appeared' if present else 'never left'}")


def _holding(state_dir: Path, needle: bytes) -> int:
    """How many files under `state_dir` hold `needle` (a merge may delete folders as we walk)."""
    while True:
        try:
            return sum(needle in p.read_bytes() for p in state_dir.rglob("*") if p.is_file())
        except FileNotFoundError:
            continue


def _wait_for_snapshot(server: Server, other_than: str, limit: float = 600) -> str:
    started = time.perf_counter()
    while time.perf_counter() - started < limit:
        health = server.call("GET", "/health")
        if health["snapshot"] and health["snapshot"] != other_than:  # type: ignore[index]
            return str(health["snapshot"])  # type: ignore[index]
        time.sleep(0.2)
    raise RuntimeError("the server never swapped to a new snapshot")


def _live(home: Path, out: dict[str, object]) -> None:
    with Server(home, scope="admin") as server:
        out["restart_100k_live_s"] = round(server.first_answer({"profile_id": "s000001", "k": 10}), 2)
        server.match({"text": "warm up the model", "k": 3})
        idle = _loop(server, LOOP_SECONDS)
        out["match_idle_p50_ms"], out["match_idle_p99_ms"] = _p(idle, 50), _p(idle, 99)

        owner = _unique(0, "ownerwrites")
        server.call("POST", "/v1/profiles", owner)
        owner_key = server.call("POST", "/v1/keys", {"scope": "owner", "owner": owner["id"]})["key"]  # type: ignore[index]
        stop = threading.Event()

        def rewrite() -> None:
            work = owner["works"][0]  # type: ignore[index]
            for i in itertools.count(1):
                if stop.wait(1.0):
                    return
                body = {**owner, "works": [{**work, "abstract": f"revision {i}: {work['abstract']}"}]}
                request = urllib.request.Request(
                    f"http://127.0.0.1:{server.port}/v1/profiles/{owner['id']}", method="PUT",
                    data=json.dumps(body).encode(),
                    headers={"content-type": "application/json", "X-API-Key": owner_key},
                )
                urllib.request.urlopen(request, timeout=60).read()

        writer = threading.Thread(target=rewrite)
        writer.start()
        during = _loop(server, LOOP_SECONDS)
        stop.set()
        writer.join()
        out["match_during_writes_p99_ms"] = _p(during, 99)
        out["match_p99_during_writes_ratio"] = round(_p(during, 99) / _p(idle, 99), 2)

        adds, deletes = [], []
        for i in range(10):
            body = _unique(i, "zorbulant")
            started = time.perf_counter()
            server.call("POST", "/v1/profiles", body)
            _first_seen(server, _title(body), str(body["id"]), True)
            adds.append((time.perf_counter() - started) * 1000)
        for i in range(10):
            body = _unique(i, "zorbulant")
            started = time.perf_counter()
            server.call("DELETE", f"/v1/profiles/{body['id']}")
            _first_seen(server, _title(body), str(body["id"]), False)
            deletes.append((time.perf_counter() - started) * 1000)
        out["add_one_100k_ms"], out["add_one_100k_max_ms"] = round(statistics.median(adds), 1), round(max(adds), 1)
        out["delete_one_100k_ms"] = round(statistics.median(deletes), 1)
        out["delete_one_100k_max_ms"] = round(max(deletes), 1)

        before = _wait_for_snapshot(server, other_than="")  # the erasures above were merged meanwhile
        erased = _unique(0, "qwyxzlorp")
        server.call("POST", "/v1/profiles", erased)
        out["merge_100k_s"] = round(_cli(home, "state", "merge"), 1)  # the profile is now in the snapshot
        merged = _wait_for_snapshot(server, other_than=before)
        state_dir = home / "state"
        assert _holding(state_dir, b"qwyxzlorp"), "the profile to erase is not in the snapshot"
        started = time.perf_counter()
        server.call("DELETE", f"/v1/profiles/{erased['id']}")
        while _holding(state_dir, b"qwyxzlorp"):
            if time.perf_counter() - started > 600:
                raise RuntimeError("the erased profile stayed in the state files")
            time.sleep(0.5)
        out["erase_files_100k_s"] = round(time.perf_counter() - started, 1)
        _wait_for_snapshot(server, other_than=merged)

        pool = home.parent / "ingest-10k.jsonl"
        extra = [dataclasses.replace(p, id=f"t{p.id[1:]}") for p in synthetic_profiles(10_000, seed=5)]
        pool.write_text("".join(json.dumps(profile_to_dict(p)) + "\n" for p in extra))
        store = Store(home)
        texts = corpus_texts(extra)
        hashes = [text_hash(t) for t in texts]
        store.put_vectors(model_id_for(Config(home=home)), hashes, synthetic_vectors(10_000, seed=5))
        store.close()
        done = threading.Event()
        started = time.perf_counter()
        ingest = subprocess.Popen([sys.executable, "-m", "matcher", "ingest", str(pool)],
                                  env={**server.env}, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        watcher = threading.Thread(target=lambda: (ingest.wait(), done.set()))
        watcher.start()
        during = _loop(server, 0, until=done)
        watcher.join()
        out["ingest_10k_cli_s"] = round(time.perf_counter() - started, 1)
        while server.call("GET", "/health")["profiles"] < N + 10_001:  # type: ignore[index]
            time.sleep(0.2)
        out["ingest_10k_visible_s"] = round(time.perf_counter() - started, 1)
        out["match_during_ingest_p99_ms"] = _p(during, 99)
        out["match_during_ingest_n"] = len(during)
        out["match_p99_during_ingest_ratio"] = round(_p(during, 99) / _p(idle, 99), 2)
        out["refit_100k_s"] = round(_cli(home, "state", "merge", "--refit"), 1)
        out["rss_100k_gib"] = server.peak_rss_gib()


def _p(values: np.ndarray, q: int) -> float:
    return round(float(np.percentile(values, q)), 2)


def _kernels() -> dict[str, object]:
    from matcher.demo import shipped as demo_store
    from matcher.embed import backends
    from matcher.embed.base import normalise_rows
    from matcher.embed.sentence import SentenceTransformerEmbedder, packaged_model_path
    from matcher.ingest.readers import read_profiles

    profiles = [p for _, p in read_profiles(demo_store.DEMO_DIR / "profiles.jsonl").profiles]
    every = corpus_texts(profiles)
    chosen = np.random.default_rng(0).choice(len(every), 400, replace=False)
    texts = [every[i] for i in chosen]
    fp32 = SentenceTransformerEmbedder(backend="torch").embed(texts)
    with np.load(demo_store.DEMO_DIR / "vectors.npz", allow_pickle=False) as shipped:
        vectors = {f"shipped_{str(shipped['kernel']).removeprefix('int8-')}": normalise_rows(
            shipped["vectors"][chosen].astype(np.float32))}
    with tempfile.TemporaryDirectory() as models:
        for profile in ("avx2", "avx512_vnni"):
            path = backends.export_onnx(packaged_model_path(), Path(models), int8=profile)
            encoder = backends.OnnxEncoder(path, threads=backends.usable_cpus())
            vectors[f"{profile}_model_run_here"] = normalise_rows(encoder.encode(texts))
    out: dict[str, object] = {"int8_texts": len(texts), "int8_kernel_here": backends.int8_profile()}
    for name, v in vectors.items():
        cos = np.sum(v * fp32, axis=1)
        out[f"int8_cosine_to_fp32_mean_{name}"] = round(float(cos.mean()), 4)
        out[f"int8_cosine_to_fp32_min_{name}"] = round(float(cos.min()), 4)
    names = sorted(vectors)
    cross = [float(np.sum(vectors[a] * vectors[b], axis=1).mean()) for i, a in enumerate(names) for b in names[i + 1:]]
    out["int8_kernels_cross_cosine_mean_min"] = round(min(cross), 4)
    return out


def run() -> dict[str, object]:
    out: dict[str, object] = {"profiles": N, "works": N * 5}
    out.update(_kernels())
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "store"
        started = time.perf_counter()
        synthetic_store(home, N, model_id_for(Config(home=home))).close()
        out["store_100k_build_s"] = round(time.perf_counter() - started, 1)
        out["first_build_100k_s"] = round(_cli(home, "state", "merge"), 1)
        restarts = []
        for _ in range(3):
            with Server(home) as server:
                restarts.append(server.first_answer({"profile_id": "s000001", "k": 10}))
        out["restart_100k_s"] = round(statistics.median(restarts), 2)
        out["restart_100k_max_s"] = round(max(restarts), 2)
        clis = [_cli(home, "match", "--id", f"s{i * 7919 % N:06d}", "--k", "10", "--json") for i in range(3)]
        out["cli_match_100k_s"], out["cli_match_100k_max_s"] = round(statistics.median(clis), 2), round(max(clis), 2)
        _live(home, out)
    return out
