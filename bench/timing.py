"""Small timing helpers shared by the benchmarks: medians and percentiles, never single runs."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

__all__ = ["latencies_ms", "summary"]


def latencies_ms(fn: Callable[[int], object], n: int, warmup: int = 3) -> np.ndarray:
    for i in range(warmup):
        fn(i)
    out = np.empty(n)
    for i in range(n):
        start = time.perf_counter()
        fn(i)
        out[i] = (time.perf_counter() - start) * 1000
    return out


def summary(prefix: str, values: np.ndarray, digits: int = 2) -> dict[str, float]:
    return {
        f"{prefix}_p50_ms": round(float(np.percentile(values, 50)), digits),
        f"{prefix}_p99_ms": round(float(np.percentile(values, 99)), digits),
        f"{prefix}_min_ms": round(float(values.min()), digits),
        f"{prefix}_max_ms": round(float(values.max()), digits),
        f"{prefix}_n": int(len(values)),
    }
