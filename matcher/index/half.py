"""Half-precision vectors: the corpus keeps its unit vectors as float16 and computes in float32.

Unit vectors lose nothing a ranking can see in float16 (cosine error about 1e-4, see bench `match`),
and half the bytes is half the memory and half of what a scan over every profile must read. NumPy
has no fast float16 kernels (its float16 matrix-vector product is ~10x slower than float32), so the
hot operations go through PyTorch's CPU kernels, which convert with F16C/AVX-512 instructions:
`matvec` (a query against every row; float16 results, error below 5e-4), `gather` (rows to float32)
and `rows_dot` (a few rows against a few queries, in float32).
PyTorch is imported on first use: commands that never touch vectors do not pay for it. Its
intra-op threads are process-wide and set once at the edge (`configure`): one with the default
embedding backend, since a scan is bound by memory bandwidth and a server answers concurrent queries
on separate threads, where a second intra-op thread per query only adds contention (measured: p50
18 ms with one thread, 28 ms with two, at 100k profiles with a second process busy). A scan
of many rows is instead split in two halves on a small shared pool of Python threads (PyTorch
releases the GIL): on an idle machine both cores stream memory, and under load the halves queue.
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from types import ModuleType

import numpy as np

__all__ = ["HalfBlocks", "configure", "gather", "matvec", "rows_dot", "to_half", "warm"]

SPLIT_ROWS = 65_536  # scans of at least this many rows run as two halves in parallel


class _Threads:
    """torch's intra-op thread count: process-wide by nature, so chosen once, at the edge
    (`matcher.service.bootstrap`), and applied when torch is first imported."""

    count = 1


def configure(*, threads: int) -> None:
    """Set the process's torch thread count (one for the scans of a server; more when torch also
    embeds texts)."""
    _Threads.count = max(1, threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(_Threads.count)


@cache
def _torch() -> ModuleType:
    import torch

    torch.set_num_threads(_Threads.count)
    return torch


@cache
def _scan_pool() -> ThreadPoolExecutor | None:
    workers = min(2, os.cpu_count() or 1)
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="scan") if workers > 1 else None


def warm() -> None:
    """Import PyTorch now (a server does it at start, so the first scan does not wait for it)."""
    _torch()


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



class HalfBlocks:
    """Blocks of float16 rows read as one matrix: the segments of the matching state (a memory-
    mapped base and the rows added since), without ever concatenating them."""

    def __init__(self, blocks: list[np.ndarray] | tuple[np.ndarray, ...]):
        if not blocks:
            raise ValueError("HalfBlocks needs at least one block")
        self.blocks = tuple(blocks)
        self.starts = np.cumsum([0, *(len(b) for b in self.blocks)]).astype(np.int64)
        self.dim = int(self.blocks[0].shape[1])

    def __len__(self) -> int:
        return int(self.starts[-1])

    @property
    def shape(self) -> tuple[int, int]:
        return len(self), self.dim

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.float16)

    def _parts(self, rows: np.ndarray | slice | int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(block, local rows, positions in `rows`) for each block that `rows` touches."""
        if isinstance(rows, slice):
            rows = np.arange(*rows.indices(len(self)))
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        if len(self.blocks) == 1:
            return [(self.blocks[0], rows, np.arange(len(rows)))]
        which = np.searchsorted(self.starts, rows, side="right") - 1
        out = []
        for b, block in enumerate(self.blocks):
            positions = np.flatnonzero(which == b)
            if len(positions):
                out.append((block, rows[positions] - self.starts[b], positions))
        return out

    def gather(self, rows: np.ndarray | slice | int) -> np.ndarray:
        """Rows as float32; a single int gives one (d,) vector."""
        single = isinstance(rows, (int, np.integer))
        parts = self._parts(rows)
        if len(parts) == 1:
            out = gather(parts[0][0], parts[0][1])
        else:
            out = np.empty((sum(len(p) for _, _, p in parts), self.dim), dtype=np.float32)
            for block, local, positions in parts:
                out[positions] = gather(block, local)
        return out[0] if single else out

    def rows_dot(self, rows: np.ndarray | slice | int, queries: np.ndarray) -> np.ndarray:
        """`self[rows] @ queries.T` in float32 (see `rows_dot`); an int row gives a scalar or (m,)."""
        single = isinstance(rows, (int, np.integer))
        parts = self._parts(rows)
        if len(parts) == 1:
            out = rows_dot(parts[0][0], parts[0][1], queries)
        else:
            n = sum(len(p) for _, _, p in parts)
            out = np.empty((n, *np.shape(queries)[:-1]), dtype=np.float32)
            for block, local, positions in parts:
                out[positions] = rows_dot(block, local, queries)
        return out[0] if single else out

    def matvec(self, vector: np.ndarray) -> np.ndarray:
        """Every row's product with `vector`, as float32 (one scan per block)."""
        parts = [matvec(block, vector) for block in self.blocks if len(block)]
        return np.concatenate(parts) if parts else np.zeros(0, np.float32)
