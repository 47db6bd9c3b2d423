"""Half-precision vectors: the corpus keeps its unit vectors as float16 and computes in float32.

Unit vectors lose nothing a ranking can see in float16 (cosine error about 1e-4, see bench `match`),
and half the bytes is half the memory and half of what a scan over every profile must read. NumPy
has no fast float16 kernels (its float16 matrix-vector product is ~10x slower than float32), so the
hot operations go through PyTorch's CPU kernels, which convert with F16C/AVX-512 instructions:
`matvec` (a query against every row; float16 results, error below 5e-4), `gather` (rows to float32)
and `rows_dot` (a few rows against a few queries, in float32).
PyTorch is imported on first use: commands that never touch vectors do not pay for it. Its
intra-op threads are then set to one: a scan is bound by memory bandwidth, and a server answers
concurrent queries on separate threads, where a second intra-op thread per query only adds contention
(measured: p50 18 ms with one thread, 28 ms with two, at 100k profiles with a second process busy).
The torch embedding backend sets its own thread count for each encode and then restores it. A scan
of many rows is instead split in two halves on a small shared pool of Python threads (PyTorch
releases the GIL): on an idle machine both cores stream memory, and under load the halves queue.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from types import ModuleType

import numpy as np

__all__ = ["gather", "matvec", "rows_dot", "to_half"]

SPLIT_ROWS = 65_536  # scans of at least this many rows run as two halves in parallel


@cache
def _torch() -> ModuleType:
    import torch

    torch.set_num_threads(1)
    return torch


@cache
def _scan_pool() -> ThreadPoolExecutor | None:
    workers = min(2, os.cpu_count() or 1)
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="scan") if workers > 1 else None


def to_half(vectors: np.ndarray) -> np.ndarray:
    """A C-contiguous float16 copy (or the array itself when it already is one)."""
    return np.ascontiguousarray(vectors, dtype=np.float16)


def matvec(matrix: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """`matrix @ vector` as float32, for a float16 `matrix` (n, d) and a vector (d,)."""
    torch = _torch()
    query = torch.from_numpy(np.ascontiguousarray(vector, dtype=np.float16))
    rows = torch.from_numpy(matrix)
    pool = _scan_pool()
    if len(matrix) < SPLIT_ROWS or pool is None:
        return torch.mv(rows, query).float().numpy()
    middle = len(matrix) // 2
    halves = [pool.submit(torch.mv, part, query) for part in (rows[:middle], rows[middle:])]
    out = np.empty(len(matrix), dtype=np.float32)
    out[:middle] = halves[0].result().float().numpy()
    out[middle:] = halves[1].result().float().numpy()
    return out


def gather(matrix: np.ndarray, rows: np.ndarray | slice) -> np.ndarray:
    """`matrix[rows]` as a float32 array, for a float16 `matrix`."""
    return _torch().from_numpy(np.ascontiguousarray(matrix[rows])).float().numpy()


def rows_dot(matrix: np.ndarray, rows: np.ndarray | slice, queries: np.ndarray) -> np.ndarray:
    """`matrix[rows] @ queries.T` as float32, for a float16 `matrix` and float32 queries (m, d) or (d,).

    Computed in PyTorch on its one thread: the products of a query are small, and a multi-threaded
    BLAS call per query costs more in thread wake-ups than in arithmetic when the cores are shared
    (measured: demo match by id p50 8 ms this way, 12-17 ms with two OpenBLAS threads)."""
    torch = _torch()
    part = torch.from_numpy(gather(matrix, rows))
    right = torch.from_numpy(np.ascontiguousarray(queries, dtype=np.float32))
    return (part @ right.T).numpy() if right.ndim == 2 else torch.mv(part, right).numpy()

