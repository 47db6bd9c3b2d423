"""Candidate search: one interface, `VectorIndex.search(queries, n, allowed) -> (rows, scores)`.

The core never asks an index for every row's score: it says which rows the rules allow and how
many it wants, so an index is free to scan, to use a graph, or to ask a database. Implementations
(one contract suite runs against all of them, `tests/test_index.py`):
- `ExactIndex` (the default): an exact scan over L2-normalised rows. `precision="half"` keeps the
  rows as float16 and scans them in PyTorch's float16 kernel (`matcher.index.half`): at 100,000 profiles
  it reads 77 MB per query instead of 154 MB and takes about 0.6x the time of `precision="single"`
  (float32 rows, one BLAS product), in half the memory. When the rules allow few rows, only those
  are scored.
- `SklearnIndex`: scikit-learn `NearestNeighbors(metric="cosine", algorithm="brute")`, the
  reference. It re-normalises the fitted matrix on every query, several times slower.
- `StackedIndex`: indexes over consecutive blocks of rows searched as one (the matching state's
  base and the rows added since); each part is searched with its share of `allowed` and the
  results merged.
- `PgVectorIndex` (`matcher.index.pgvector`, `MATCHER_INDEX=pgvector`): an HNSW graph in PostgreSQL
  with pgvector, for the matching state's base; the rows added since stay in memory, exact.

`fit(vectors, groups)` may be given a label per row (the country): an index may use it to express
`allowed` compactly (the pgvector index does; the in-memory ones need not).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from matcher.domain.errors import MatcherError
from matcher.index import half
from matcher.store.atomic import save_npy_atomic

__all__ = ["IN_MEMORY", "ExactIndex", "SklearnIndex", "StackedIndex", "VectorIndex", "delta_kind", "index_for", "top_n"]

FEW = 8  # score only the allowed rows when they are fewer than 1/FEW of all rows


def top_n(sims: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Columns and values of the `n` largest entries of each row of `sims`, best first (ties by column)."""
    n = min(n, sims.shape[1])
    if n < sims.shape[1]:
        top = np.argpartition(-sims, n - 1, axis=1)[:, :n]
    else:
        top = np.broadcast_to(np.arange(sims.shape[1]), sims.shape)
    top_sims = np.take_along_axis(sims, top, axis=1)
    order = np.lexsort((top, -top_sims), axis=1)
    return np.take_along_axis(top, order, axis=1), np.take_along_axis(top_sims, order, axis=1)


@runtime_checkable
class VectorIndex(Protocol):
    """Nearest rows by cosine. `search` returns, for each query, the `n` best rows that `allowed`
    admits (all rows when None), best first, ties by row; fewer when fewer are allowed."""

    def fit(self, vectors: np.ndarray, groups: np.ndarray | None = None) -> VectorIndex: ...

    def search(
        self, queries: np.ndarray, n: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]: ...

    def __len__(self) -> int: ...

    def save(self, directory: Path) -> None: ...


def _unit(queries: np.ndarray) -> np.ndarray:
    queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
    return queries / np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)


def _empty(m: int) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros((m, 0), dtype=np.int64), np.zeros((m, 0), dtype=np.float32)


def _check(vectors: np.ndarray) -> None:
    if vectors.ndim != 2 or len(vectors) == 0:
        raise ValueError("an index needs a non-empty 2-d array of vectors")


class ExactIndex:
    """Exact cosine search over unit rows (see the module)."""

    def __init__(self, *, precision: str = "half"):
        self.precision = precision

    def fit(self, vectors: np.ndarray, groups: np.ndarray | None = None) -> ExactIndex:
        if self.precision not in ("half", "single"):
            raise ValueError("precision must be 'half' or 'single'")
        _check(vectors)
        dtype = np.float16 if self.precision == "half" else np.float32
        self.vectors_ = vectors if vectors.dtype == dtype and vectors.flags.c_contiguous else np.ascontiguousarray(
            vectors, dtype=dtype
        )
        return self

    def __len__(self) -> int:
        return len(self.vectors_)

    def _scan(self, query: np.ndarray) -> np.ndarray:
        if self.precision == "half":
            return half.matvec(self.vectors_, query)
        return self.vectors_ @ query

    def _rows(self, rows: np.ndarray, queries: np.ndarray) -> np.ndarray:
        if self.precision == "half":
            return half.rows_dot(self.vectors_, rows, queries).reshape(len(rows), len(queries)).T
        return queries @ self.vectors_[rows].T

    def search(
        self, queries: np.ndarray, n: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        queries = _unit(queries)
        count = len(self) if allowed is None else int(np.count_nonzero(allowed))
        if count == 0 or n <= 0:
            return _empty(len(queries))
        if allowed is not None and (count <= n or count * FEW < len(self)):
            rows = np.flatnonzero(allowed)
            top, sims = top_n(self._rows(rows, queries), n)
            return rows[top], sims
        sims = np.stack([self._scan(q) for q in queries])
        if allowed is not None:
            sims[:, ~allowed] = -np.inf
        return top_n(sims, min(n, count))

    def save(self, directory: Path) -> None:
        save_npy_atomic(directory / "index_vectors.npy", self.vectors_)
        (directory / "index.json").write_text(json.dumps({"kind": "exact", "precision": self.precision}))

    @classmethod
    def load(cls, directory: Path) -> ExactIndex:
        meta = json.loads((directory / "index.json").read_text())
        vectors = np.load(directory / "index_vectors.npy", mmap_mode="c", allow_pickle=False)
        return cls(precision=meta.get("precision", "half")).fit(vectors)


class SklearnIndex:
    """scikit-learn's brute-force cosine neighbours, the reference implementation."""

    def __init__(self, *, n_jobs: int | None = None):
        self.n_jobs = n_jobs

    def fit(self, vectors: np.ndarray, groups: np.ndarray | None = None) -> SklearnIndex:
        from sklearn.neighbors import NearestNeighbors

        _check(vectors)
        self.vectors_ = np.ascontiguousarray(vectors, dtype=np.float32)
        self.nn_ = NearestNeighbors(metric="cosine", algorithm="brute", n_jobs=self.n_jobs).fit(self.vectors_)
        return self

    def __len__(self) -> int:
        return len(self.vectors_)

    def search(
        self, queries: np.ndarray, n: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        queries = _unit(queries)
        count = len(self) if allowed is None else int(np.count_nonzero(allowed))
        if count == 0 or n <= 0:
            return _empty(len(queries))
        blocked = len(self) - count
        distances, rows = self.nn_.kneighbors(queries, n_neighbors=min(len(self), n + blocked))
        sims = (1.0 - distances).astype(np.float32)
        if allowed is not None:
            keep = allowed[rows]
            k = min(n, count)
            rows = np.stack([r[m][:k] for r, m in zip(rows, keep, strict=True)])
            sims = np.stack([s[m][:k] for s, m in zip(sims, keep, strict=True)])
        order = np.lexsort((rows, -sims), axis=1)[:, :n]  # ties by row, as every index
        return np.take_along_axis(rows, order, axis=1), np.take_along_axis(sims, order, axis=1)

    def save(self, directory: Path) -> None:
        save_npy_atomic(directory / "index_vectors.npy", self.vectors_)
        (directory / "index.json").write_text(json.dumps({"kind": "sklearn"}))

    @classmethod
    def load(cls, directory: Path) -> SklearnIndex:
        return cls().fit(np.load(directory / "index_vectors.npy", allow_pickle=False))


class StackedIndex:
    """Indexes over consecutive blocks of rows, searched as one index."""

    def __init__(self, parts: Sequence[VectorIndex]):
        self.parts = tuple(p for p in parts if len(p))
        self.starts = np.cumsum([0, *(len(p) for p in self.parts)]).astype(np.int64)

    def fit(self, vectors: np.ndarray, groups: np.ndarray | None = None) -> StackedIndex:
        raise TypeError("a StackedIndex is made of fitted parts")

    def __len__(self) -> int:
        return int(self.starts[-1])

    def search(
        self, queries: np.ndarray, n: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        queries = _unit(queries)
        if len(self.parts) == 1:
            return self.parts[0].search(queries, n, allowed)
        found_rows, found_sims = [], []
        for part, lo, hi in zip(self.parts, self.starts[:-1], self.starts[1:], strict=True):
            rows, sims = part.search(queries, n, None if allowed is None else allowed[lo:hi])
            found_rows.append(rows + lo)
            found_sims.append(sims)
        rows, sims = np.concatenate(found_rows, axis=1), np.concatenate(found_sims, axis=1)
        order = np.lexsort((rows, -sims), axis=1)[:, :n]
        return np.take_along_axis(rows, order, axis=1), np.take_along_axis(sims, order, axis=1)

    def save(self, directory: Path) -> None:
        raise TypeError("save the parts of a StackedIndex")


IN_MEMORY = ("exact", "exact-single", "sklearn")  # kinds whose rows live in the process


def delta_kind(kind: str) -> str:
    """The index kind for the rows written since the base: the base's when it lives in memory, the
    exact scan otherwise (a few thousand rows, changing with every write)."""
    return kind if kind in IN_MEMORY else "exact"


def index_for(kind: str, url: str | None = None) -> VectorIndex:
    """A new, unfitted index of a configured kind: exact (float16), exact-single, sklearn, or
    pgvector (in the PostgreSQL database at `url`)."""
    if kind == "exact":
        return ExactIndex()
    if kind == "exact-single":
        return ExactIndex(precision="single")
    if kind == "sklearn":
        return SklearnIndex()
    if kind == "pgvector":
        if not url:
            raise MatcherError("MATCHER_INDEX=pgvector needs its database: set MATCHER_INDEX_URL=postgresql://...")
        from matcher.index.pgvector import PgVectorIndex

        return PgVectorIndex(url)
    raise ValueError(f"unknown index '{kind}'; choose exact, exact-single, sklearn or pgvector")
