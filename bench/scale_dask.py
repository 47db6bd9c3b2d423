"""Batch top-k on Dask (keys of the `scale` section): a LocalCluster of two worker processes against
the local run on the same machine, and a 400k pool with each worker's peak memory.

Run from the project root: ``python -m bench.scale_dask`` (prints the keys as JSON, and each figure
on stderr as it is measured, the 400k run's tiles per second every minute; ``--n 0`` skips the 100k
comparison, ``--n-large 0`` the 400k run). ``run()`` returns the keys for bench/results.json, section ``scale``.
The pool is bench_batch's: random unit vectors, 384 wide, ~40 countries of Zipf-like sizes; k=10.
At 100k the two results are asserted equal (indices and scores, bit for bit); at 400k the local
run is not repeated, a sample of rows is checked against a direct computation instead.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from bench.bench_batch import make_pool
from matcher.assign.distributed import dask_topk_pairs
from matcher.assign.topk import topk_pairs
from matcher.service.cluster import DaskTarget, dask_client

__all__ = ["run"]

N, N_LARGE, K, WORKERS = 100_000, 400_000, 10, 2


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def _peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 2**30


@contextmanager
def _cluster(workers: int) -> Iterator[tuple[Any, float]]:
    """A fresh LocalCluster as `matcher batch --dask local:N` starts it (so each worker's peak RSS
    is this run's), its client and its start time; the workers import the matcher before anything
    is timed."""
    start = time.perf_counter()
    with dask_client(DaskTarget(workers=workers)) as client:
        client.run(lambda: __import__("matcher.assign.topk"))
        yield client, time.perf_counter() - start


def _check_sample(vectors: np.ndarray, codes: np.ndarray, idx: np.ndarray, val: np.ndarray, k: int) -> bool:
    """A few hundred rows' top-k computed directly (float64): the same partners, the same scores."""
    rows = np.random.default_rng(5).choice(len(vectors), 300, replace=False)
    s = np.empty((len(rows), len(vectors)), dtype=np.float64)
    for start in range(0, len(vectors), 65_536):  # in slices, so the check adds little to the peak
        part = vectors[start : start + 65_536].astype(np.float64)
        s[:, start : start + len(part)] = vectors[rows].astype(np.float64) @ part.T
    s[codes[rows][:, None] == codes[None, :]] = -np.inf
    best = np.argsort(-s, axis=1, kind="stable")[:, :k]
    expected = np.take_along_axis(s, best, 1)
    return bool(np.allclose(val[rows], expected, atol=1e-5) and np.mean(idx[rows] == best) > 0.999)


def _note(**figures: Any) -> None:
    print(json.dumps(figures), file=sys.stderr, flush=True)  # each figure as soon as it is measured


def _logged(client: Any, every_s: float = 60.0) -> Callable[[int, int], None]:
    """A progress callback that notes tiles done, the rate and the workers' peak RSS now and then."""
    start, last = time.perf_counter(), [0.0]

    def progress(done: int, total: int) -> None:
        now = time.perf_counter() - start
        if now - last[0] >= every_s or done == total:
            last[0] = now
            peak = max(client.run(_peak_rss_gib).values())
            _note(tiles_done=done, tiles=total, elapsed_s=round(now, 1), tiles_per_s=round(done / now, 2),
                  worker_peak_rss_gib=round(peak, 3), load_average_1m=round(os.getloadavg()[0], 2))

    return progress


def run(n: int = N, n_large: int = N_LARGE, k: int = K, workers: int = WORKERS, repeats: int = 1) -> dict:
    out: dict[str, Any] = {"dask_cpus": len(os.sched_getaffinity(0)), "dask_workers": workers, "dask_k": k}
    if n:
        out.update(_versus_local(n, k, workers, repeats))
        _note(**out)
    if n_large:
        out.update(_large(n_large, k, workers))
    out["dask_load_average_1m"] = round(os.getloadavg()[0], 2)
    return out


def _versus_local(n: int, k: int, workers: int, repeats: int) -> dict[str, Any]:
    vectors, codes = make_pool(n)
    with _cluster(workers) as (client, started):
        local_s, spread_s = [], []
        for _ in range(repeats):  # interleaved, so load from other processes hits both alike
            seconds, local = _timed(lambda: topk_pairs(vectors, k, countries=codes))
            local_s.append(seconds)
            seconds, spread = _timed(lambda: dask_topk_pairs(client, vectors, k, countries=codes))
            spread_s.append(seconds)
            assert np.array_equal(local[0], spread[0]) and np.array_equal(local[1], spread[1]), "results differ"
    return {
        "dask_cluster_start_s": round(started, 2),
        "local_topk_100k_s": round(statistics.median(local_s), 3),
        "dask_topk_100k_s": round(statistics.median(spread_s), 3),
        "dask_topk_100k_over_local": round(statistics.median(spread_s) / statistics.median(local_s), 3),
        "dask_topk_100k_equal_local": True,
    }


def _large(n: int, k: int, workers: int) -> dict[str, Any]:
    vectors, codes = make_pool(n, seed=1)
    with _cluster(workers) as (client, _):
        seconds, (idx, val) = _timed(lambda: dask_topk_pairs(client, vectors, k, countries=codes,
                                                             progress=_logged(client)))
        worker_peaks = client.run(_peak_rss_gib)
    client_peak = _peak_rss_gib()  # before the check below, which is the bench's, not the batch's
    return {
        "dask_topk_400k_s": round(seconds, 1),
        "dask_topk_400k_rows_per_s": round(n / seconds),
        "dask_topk_400k_sample_exact": _check_sample(vectors, codes, idx, val, k),
        "dask_worker_peak_rss_gib": round(max(worker_peaks.values()), 3),
        "dask_client_peak_rss_gib": round(client_peak, 3),
        "dask_400k_vectors_gib": round(vectors.nbytes / 2**30, 3),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=N)
    parser.add_argument("--n-large", type=int, default=N_LARGE)
    parser.add_argument("--k", type=int, default=K)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    print(json.dumps(run(args.n, args.n_large, args.k, repeats=args.repeats), indent=2))
