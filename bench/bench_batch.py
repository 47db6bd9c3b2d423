"""Batch matching benchmark: exact cross-border top-k vs faiss, peak memory, bipartite flow.

Run from the project root: ``python -m bench.bench_batch`` (prints the section as JSON), or
``python -m bench.run batch`` to record it in bench/results.json.
The pool is random L2-normalised float32 vectors with ~40 countries of Zipf-like sizes.
The faiss baseline is IndexFlatIP (exact, BLAS) asked for k' > k neighbours, filtered for self
and same country afterwards; rows left with fewer than k are searched again with k' doubled.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from matcher.assign.topk import score_pairs, topk_pairs

ROOT = Path(__file__).resolve().parents[1]

__all__ = ["run", "make_pool", "faiss_topk"]

N, DIM, K, COUNTRIES = 100_000, 384, 10, 40


def make_pool(n: int, dim: int = DIM, countries: int = COUNTRIES, seed: int = 0):
    """Random unit vectors and skewed country codes (share of country r proportional to 1/r)."""
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, dim), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    share = 1.0 / np.arange(1, countries + 1)
    codes = rng.choice(countries, size=n, p=share / share.sum())
    return vectors, codes


def faiss_topk(vectors: np.ndarray, k: int, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The same exact search with faiss: over-fetch, filter, re-search the rows that fall short."""
    import faiss

    n = len(vectors)
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    largest = np.bincount(codes).max() / n
    fetch = min(n, int(np.ceil(1.5 * k / max(1.0 - largest, 1e-3))) + 1)
    out_i = np.full((n, k), -1, dtype=np.int64)
    out_s = np.full((n, k), -np.inf, dtype=np.float32)
    todo = np.arange(n)
    while todo.size:
        scores, found = index.search(vectors[todo], fetch)
        ok = (found >= 0) & (found != todo[:, None])
        ok &= codes[np.maximum(found, 0)] != codes[todo][:, None]
        done = (ok.sum(axis=1) >= k) | (fetch >= n)
        first = np.argsort(~ok, axis=1, kind="stable")[:, :k]  # best eligible, still in order
        picked_ok = np.take_along_axis(ok, first, 1)
        rows = todo[done]
        out_i[rows] = np.where(picked_ok, np.take_along_axis(found, first, 1), -1)[done]
        out_s[rows] = np.where(picked_ok, np.take_along_axis(scores, first, 1), -np.inf)[done]
        todo, fetch = todo[~done], min(n, fetch * 2)
    return out_i, out_s


def _timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def _child_peak_rss_gib(n: int, k: int) -> float:
    """Peak RSS of a fresh process that only builds the pool and runs topk_pairs, as the child
    reports it (RUSAGE_CHILDREN would give the largest child this process ever waited for, which
    is another section's when several run in one `bench.run`)."""
    code = (
        "import resource\n"
        "from bench.bench_batch import make_pool\n"
        "from matcher.assign.topk import topk_pairs\n"
        f"v, c = make_pool({n})\n"
        f"topk_pairs(v, {k}, countries=c)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env=env, capture_output=True, text=True)
    return int(out.stdout.split()[-1]) * 1024 / 2**30


def _bipartite_seconds(n_side: int = 5000, capacity: int = 3, k: int = 30) -> dict:
    """Two sides of n_side applicants; candidates: each applicant's top-k on the other side."""
    from matcher.assign.pairing import bipartite_assignment, total_weight

    vectors, _ = make_pool(2 * n_side, seed=1)
    side = np.repeat([0, 1], n_side)
    start = time.perf_counter()
    idx, scores = topk_pairs(vectors, k, countries=side)  # side as country: cross-side only
    ei, ej, w = score_pairs(idx, scores)
    cap = np.full(n_side, capacity)
    sel = bipartite_assignment(n_side, n_side, ei, ej - n_side, w, cap, cap)
    seconds = time.perf_counter() - start
    return {
        "bipartite_5k_s": round(seconds, 3),
        "bipartite_5k_edges": int(len(w)),
        "bipartite_5k_pairs": int(sel.sum()),
        "bipartite_5k_total": round(total_weight(w, sel), 3),
    }


def run(n: int = N, k: int = K, repeats: int = 3) -> dict:
    """The benchmark section: our top-k and faiss timed in the same run, medians of runs."""
    peak = _child_peak_rss_gib(n, k)
    vectors, codes = make_pool(n)
    ours, theirs = [], []
    for _ in range(repeats):  # interleaved, so load from other processes hits both alike
        seconds, (ours_i, ours_v) = _timed(lambda: topk_pairs(vectors, k, countries=codes))
        ours.append(seconds)
        seconds, (faiss_i, faiss_v) = _timed(lambda: faiss_topk(vectors, k, codes))
        theirs.append(seconds)
    ours_s, theirs_s = statistics.median(ours), statistics.median(theirs)
    same_scores = np.allclose(np.nan_to_num(ours_v, neginf=-9), np.nan_to_num(faiss_v, neginf=-9), atol=1e-4)
    return {
        "topk_100k_over_faiss": round(ours_s / theirs_s, 3),
        "topk_100k_s": round(ours_s, 3),
        "faiss_100k_s": round(theirs_s, 3),
        "topk_100k_peak_rss_gib": round(peak, 3),
        "topk_100k_rows_equal_faiss": round(float(np.mean((ours_i == faiss_i).all(axis=1))), 5),
        "topk_100k_scores_match_faiss": bool(same_scores),
        "cpus": len(os.sched_getaffinity(0)),
        "load_average_1m": round(os.getloadavg()[0], 2),
        **_bipartite_seconds(),
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
