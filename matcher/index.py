"""A cosine nearest-neighbour index over profile vectors (scikit-learn), with safe save and load."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from sklearn.neighbors import NearestNeighbors

from matcher.store import save_npy_atomic

__all__ = ["CosineIndex"]


class CosineIndex:
    """Exact cosine search with `NearestNeighbors(metric="cosine", algorithm="brute")`."""

    def __init__(self, *, n_jobs: int | None = None):
        self.n_jobs = n_jobs

    def fit(self, vectors: np.ndarray) -> CosineIndex:
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or len(vectors) == 0:
            raise ValueError("an index needs a non-empty 2-d array of vectors")
        self.vectors_ = vectors
        self.nn_ = NearestNeighbors(metric="cosine", algorithm="brute", n_jobs=self.n_jobs).fit(vectors)
        return self

    def query(self, queries: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows and cosine similarities of the `n` nearest vectors, best first, for each query."""
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        n = min(n, len(self.vectors_))
        distances, rows = self.nn_.kneighbors(queries, n_neighbors=n)
        return rows, (1.0 - distances).astype(np.float32)

    def save(self, directory: Path) -> None:
        save_npy_atomic(directory / "index_vectors.npy", self.vectors_)
        (directory / "index.json").write_text(json.dumps({"kind": "cosine-brute", "n": len(self.vectors_)}))

    @classmethod
    def load(cls, directory: Path) -> CosineIndex:
        vectors = np.load(directory / "index_vectors.npy", allow_pickle=False)
        return cls().fit(vectors)
