"""A brute-force `VectorIndex` in float64 NumPy: the obvious implementation, for tests and as the
oracle the real indexes are checked against (tests/test_index.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["BruteForceIndex"]


class BruteForceIndex:
    def fit(self, vectors: np.ndarray, groups: np.ndarray | None = None) -> BruteForceIndex:
        vectors = np.asarray(vectors, dtype=np.float64)
        if vectors.ndim != 2 or len(vectors) == 0:
            raise ValueError("an index needs a non-empty 2-d array of vectors")
        self.vectors_ = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return self

    def __len__(self) -> int:
        return len(self.vectors_)

    def search(
        self, queries: np.ndarray, n: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float64))
        queries = queries / np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
        sims = queries @ self.vectors_.T
        rows = np.arange(len(self)) if allowed is None else np.flatnonzero(allowed)
        k = max(0, min(n, len(rows)))
        out_rows = np.empty((len(queries), k), dtype=np.int64)
        out_sims = np.empty((len(queries), k), dtype=np.float32)
        for q in range(len(queries)):
            order = sorted(rows.tolist(), key=lambda r: (-sims[q, r], r))[:k]
            out_rows[q] = order
            out_sims[q] = sims[q, order]
        return out_rows, out_sims

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        np.save(directory / "index_vectors.npy", self.vectors_, allow_pickle=False)

    @classmethod
    def load(cls, directory: Path) -> BruteForceIndex:
        return cls().fit(np.load(directory / "index_vectors.npy", allow_pickle=False))
