"""The lexical component: a fitted TF-IDF model, per-row term vectors, and the key terms of a match.

`LexicalModel` is fitted once (the vocabulary and the idf of a pool, like the embedding model's
weights) and then transforms any text the same way: the rows of a snapshot, a profile added since,
a query. Every row is computed by the one `transform`, so a profile added after the fit scores
exactly as it would had it been there when the rows were computed. A merge of the matching state
refits when the pool has changed enough.

`LexicalRows` reads the term vectors of many rows, kept as CSR blocks (one per segment of the
matching state), without assembling one matrix.

Each row also keeps its length before normalising and its number of counted terms (`Weighed`):
with the idf they give back every term's count, so the same rows also score as BM25 (document
side saturated, `LexicalRows.saturated_scores`) without storing the counts twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from matcher.index.offsets import segments_of
from matcher.index.packed import PackedStrings
from matcher.store.atomic import write_text_atomic

__all__ = ["CsrBlock", "LexicalModel", "LexicalRows", "Weighed"]

TOKEN_PATTERN = r"(?u)\b[^\W\d_][\w\-]{2,}\b"
_COMMON = {"stop_words": "english", "token_pattern": TOKEN_PATTERN, "dtype": np.float32}


@dataclass(frozen=True, eq=False)
class Weighed:
    """Term rows of some documents, with what BM25 needs to read them back as counts."""

    rows: sparse.csr_matrix  # (n, terms) float32 TF-IDF rows, L2-normalised
    norms: np.ndarray  # (n,) float32: each row's L2 norm before normalising (0 for an empty row)
    lengths: np.ndarray  # (n,) float32: how many vocabulary terms each document has, repeats counted

    @classmethod
    def empty(cls, n_terms: int, n: int = 0) -> Weighed:
        return cls(sparse.csr_matrix((n, n_terms), dtype=np.float32), np.zeros(n, np.float32), np.zeros(n, np.float32))


def _weigh(counts: sparse.csr_matrix, idf: np.ndarray) -> Weighed:
    """scikit-learn's TF-IDF steps (sublinear tf, idf, L2 norm) in float32, keeping norms and lengths."""
    counts = sparse.csr_matrix(counts, dtype=np.float32)
    counts.sort_indices()
    lengths = np.asarray(counts.sum(axis=1), dtype=np.float32).ravel()
    np.log(counts.data, counts.data)
    counts.data += 1.0
    counts.data *= idf[counts.indices]
    norms = np.sqrt(np.asarray(counts.multiply(counts).sum(axis=1), dtype=np.float32).ravel()).astype(np.float32)
    from sklearn.preprocessing import normalize

    return Weighed(sparse.csr_matrix(normalize(counts, norm="l2", copy=False)), norms, lengths)


class LexicalModel:
    """A fitted TF-IDF vocabulary and idf (sublinear tf, L2-normalised rows)."""

    def __init__(self, terms: PackedStrings, idf: np.ndarray, params: dict[str, Any] | None = None):
        if len(terms) != len(idf):
            raise ValueError(f"{len(terms)} terms but {len(idf)} idf values")
        self.terms = terms
        self.idf = np.asarray(idf, dtype=np.float32)
        self.params = dict(params or {})

    @classmethod
    def fit(
        cls, documents: Iterable[str], *, n_documents: int, max_features: int = 200_000, max_df: float = 0.5
    ) -> tuple[LexicalModel, Weighed]:
        """Fit on the documents (read once: a store can be streamed through) and return the model
        with the documents' rows, which equal `weigh` of the same documents exactly. The idf is
        scikit-learn's smooth idf, ln((1 + n) / (1 + df)) + 1."""
        from sklearn.feature_extraction.text import CountVectorizer

        max_df = max_df if n_documents >= 20 else 1.0
        vectorizer = CountVectorizer(min_df=1, max_df=max_df, max_features=max_features, **_COMMON)
        params = {"max_df": max_df, "max_features": max_features, "documents": n_documents}
        try:
            counts = vectorizer.fit_transform(documents).tocsr()
        except ValueError:  # no document has a term that is not a stop word: no lexical signal at all
            return cls(PackedStrings.from_strings([]), np.zeros(0, np.float32), params), Weighed.empty(0, n_documents)
        n = counts.shape[0]
        df = np.bincount(counts.indices, minlength=counts.shape[1]).astype(np.float64)
        idf = (np.log((1.0 + n) / (1.0 + df)) + 1.0).astype(np.float32)
        terms = PackedStrings.from_strings(vectorizer.get_feature_names_out().tolist())
        return cls(terms, idf, params), _weigh(counts, idf)

    def __len__(self) -> int:
        return len(self.idf)

    @cached_property
    def _counter(self) -> Any:
        """scikit-learn's counting on the fitted vocabulary (imported here: commands that never
        transform a text, like a match by id, do not pay for importing scikit-learn)."""
        if not len(self):
            return None
        from sklearn.feature_extraction.text import CountVectorizer

        vocabulary = {term: i for i, term in enumerate(self.terms)}
        return CountVectorizer(vocabulary=vocabulary, **_COMMON)

    def warm(self) -> None:
        """Build the vocabulary look-up now (the server does it at start, off the request path)."""
        _ = self._counter

    def weigh(self, texts: Sequence[str]) -> Weighed:
        """Term rows of the texts on the fitted vocabulary, by the very operations of `fit` (so
        fitted rows and later rows agree bit for bit)."""
        counter = self._counter
        if counter is None:
            return Weighed.empty(0, len(texts))
        return _weigh(counter.transform(texts), self.idf)

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """Term vectors (L2-normalised TF-IDF rows) of the texts."""
        return self.weigh(texts).rows

    def without_terms(self, keep: np.ndarray) -> tuple[LexicalModel, np.ndarray]:
        """The model restricted to the terms where `keep` is True, and the old -> new column map
        (-1 for dropped terms). Used after an erasure: a term only an erased profile used goes."""
        kept = np.flatnonzero(keep)
        remap = np.full(len(self), -1, dtype=np.int64)
        remap[kept] = np.arange(len(kept))
        terms = PackedStrings.from_strings(self.terms[int(i)] for i in kept)
        return LexicalModel(terms, self.idf[kept], self.params), remap

    def save(self, directory: Path, write: Any) -> None:
        self.terms.save(directory, "lexical_terms", write)
        write(directory / "lexical_idf.npy", self.idf)
        write_text_atomic(directory / "lexical.json", json.dumps(self.params))

    @classmethod
    def load(cls, directory: Path) -> LexicalModel:
        terms = PackedStrings.load(directory, "lexical_terms")
        idf = np.load(directory / "lexical_idf.npy", allow_pickle=False)
        return cls(terms, idf, json.loads((directory / "lexical.json").read_text()))


class CsrBlock:
    """A block of term rows as its three CSR arrays (possibly memory-mapped)."""

    def __init__(self, indptr: np.ndarray, indices: np.ndarray, data: np.ndarray):
        self.indptr = indptr
        self.indices = indices
        self.data = data

    @classmethod
    def of(cls, matrix: sparse.csr_matrix) -> CsrBlock:
        matrix = sparse.csr_matrix(matrix)
        matrix.sort_indices()
        return cls(matrix.indptr.astype(np.int64), matrix.indices.astype(np.int32), matrix.data.astype(np.float32))

    def __len__(self) -> int:
        return len(self.indptr) - 1

    def row(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = int(self.indptr[row]), int(self.indptr[row + 1])
        return self.indices[lo:hi], self.data[lo:hi]

    def take(self, rows: np.ndarray) -> CsrBlock:
        positions, _ = segments_of(self.indptr, rows)
        counts = self.indptr[rows + 1] - self.indptr[rows]
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        return CsrBlock(indptr, np.asarray(self.indices[positions]), np.asarray(self.data[positions]))

    def remap_columns(self, remap: np.ndarray) -> CsrBlock:
        """Columns renumbered by `remap`; entries mapped to -1 are dropped."""
        new = remap[np.asarray(self.indices)]
        keep = new >= 0
        owner = np.repeat(np.arange(len(self)), np.diff(np.asarray(self.indptr)))
        indptr = np.zeros(len(self) + 1, dtype=np.int64)
        np.cumsum(np.bincount(owner[keep], minlength=len(self)), out=indptr[1:])
        return CsrBlock(indptr, new[keep].astype(np.int32), np.asarray(self.data)[keep])

    def column_counts(self, n_columns: int) -> np.ndarray:
        return np.bincount(np.asarray(self.indices), minlength=n_columns)

    @staticmethod
    def concat(blocks: Sequence[CsrBlock]) -> CsrBlock:
        indptrs = [np.zeros(1, dtype=np.int64)]
        total = 0
        for block in blocks:
            indptrs.append(np.asarray(block.indptr[1:]) + total)
            total += int(block.indptr[-1])
        return CsrBlock(
            np.concatenate(indptrs),
            np.concatenate([np.asarray(b.indices) for b in blocks]).astype(np.int32),
            np.concatenate([np.asarray(b.data) for b in blocks]).astype(np.float32),
        )

    def save(self, directory: Path, name: str, write: Any) -> None:
        for part in ("indptr", "indices", "data"):
            write(directory / f"{name}_{part}.npy", getattr(self, part))

    @classmethod
    def load(cls, directory: Path, name: str) -> CsrBlock:
        parts = [np.load(directory / f"{name}_{p}.npy", mmap_mode="r", allow_pickle=False)
                 for p in ("indptr", "indices", "data")]
        return cls(*parts)


class LexicalRows:
    """The term vectors of every row of the matching state (blocks stacked in row order), read
    with the fitted model: lexical scores, shared and distinctive terms."""

    def __init__(self, model: LexicalModel, blocks: Sequence[CsrBlock]):
        self.model = model
        self.blocks = tuple(blocks)
        self._starts = np.cumsum([0, *(len(b) for b in self.blocks)])

    def __len__(self) -> int:
        return int(self._starts[-1])

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        return self.model.transform(texts)

    def _locate(self, row: int) -> tuple[CsrBlock, int]:
        block = int(np.searchsorted(self._starts, row, side="right")) - 1
        return self.blocks[block], row - int(self._starts[block])

    def row(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        """(columns, weights) of one row."""
        block, local = self._locate(int(row))
        return block.row(local)

    def row_matrix(self, row: int) -> sparse.csr_matrix:
        """One row as a 1 x terms CSR matrix (a query made of a profile's own terms)."""
        cols, weights = self.row(row)
        return sparse.csr_matrix(
            (np.asarray(weights), np.asarray(cols), np.array([0, len(cols)])), shape=(1, len(self.model))
        )

    def scores(self, query: sparse.csr_matrix, rows: np.ndarray) -> np.ndarray:
        """Cosine between one query row and the rows at `rows` (read straight from the CSR arrays:
        scipy's row fancy-indexing costs more than the arithmetic at this size)."""
        rows = np.asarray(rows, dtype=np.int64)
        dense = self._dense(query)
        out = np.zeros(len(rows), dtype=np.float32)
        for positions, owner, columns, values in self._entries(rows):
            out[positions] = np.bincount(owner, weights=values * dense[columns], minlength=len(positions))
        return out

    def saturated_scores(
        self, query: sparse.csr_matrix, rows: np.ndarray, norms: np.ndarray, lengths: np.ndarray,
        average_length: float, *, k1: float = 1.2, b: float = 0.75,
    ) -> np.ndarray:
        """BM25 of the rows at `rows` for one query row, normalised by what the query allows.

        Each row term's count comes back from its weight, the row's norm and the idf; it is
        saturated the BM25 way, tf (k1 + 1) / (tf + k1 (1 - b + b len / `average_length`)), and
        divided by k1 + 1, so that it lies in [0, 1). The score sums these over the query's terms,
        weighted by the query row's own weights (which carry the idf), divided by the sum of those
        weights: a candidate with every query term infinitely often would score 1. Nothing depends
        on the other candidates: a score does not change with the candidate list, and the pool
        enters only through the fitted idf and average length, as it does for TF-IDF.
        """
        rows = np.asarray(rows, dtype=np.int64)
        out = np.zeros(len(rows), dtype=np.float32)
        total = float(query.data.sum())
        if total <= 0 or not len(rows):
            return out
        dense = self._dense(query)
        idf = self.model.idf
        scale = k1 * (1 - b + b * np.asarray(lengths, dtype=np.float32)[rows] / max(average_length, 1e-6))
        for positions, owner, columns, values in self._entries(rows):
            weights = dense[columns]
            used = weights > 0
            owner, columns, values, weights = owner[used], columns[used], values[used], weights[used]
            # a stored term occurs at least once (float32 rounding never makes it vanish)
            tf = np.maximum(1.0, np.rint(np.exp(values * norms[rows[positions][owner]] / idf[columns] - 1.0)))
            saturated = tf / (tf + scale[positions][owner])
            out[positions] = np.bincount(owner, weights=weights * saturated, minlength=len(positions))
        return out / total

    def _dense(self, query: sparse.csr_matrix) -> np.ndarray:
        """One query row as a dense vector over the vocabulary."""
        dense = np.zeros(len(self.model), dtype=np.float32)
        dense[query.indices] = query.data
        return dense

    def _entries(self, rows: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
        """The stored entries of the rows at `rows`, a segment block at a time: (the block's rows as
        positions in `rows`, each entry's owner among those positions, its column, its weight)."""
        for block, lo, positions in self._split(rows):
            flat, starts = segments_of(block.indptr, rows[positions] - lo)
            owner = np.repeat(np.arange(len(positions)), np.diff(np.append(starts, len(flat))))
            yield positions, owner, np.asarray(block.indices)[flat], np.asarray(block.data)[flat]

    def _split(self, rows: np.ndarray) -> Iterator[tuple[CsrBlock, int, np.ndarray]]:
        which = np.searchsorted(self._starts, rows, side="right") - 1
        for b, block in enumerate(self.blocks):
            positions = np.flatnonzero(which == b)
            if len(positions):
                yield block, int(self._starts[b]), positions

    def shared_terms(self, query: sparse.csr_matrix, row: int, n: int = 5) -> list[str]:
        """The terms the row shares with the query, by product of their weights."""
        cols, weights = self.row(row)
        common, in_doc, in_query = np.intersect1d(cols, query.indices, assume_unique=True, return_indices=True)
        if not len(common):
            return []
        order = np.argsort(-(weights[in_doc] * query.data[in_query]), kind="stable")[:n]
        return [self.model.terms[int(common[i])] for i in order]

    def distinctive_terms(self, row: int, exclude: sparse.csr_matrix | None = None, n: int = 5) -> list[str]:
        """The row's heaviest terms that the query does not have."""
        cols, weights = self.row(row)
        skip = set(exclude.indices.tolist()) if exclude is not None else set()
        out: list[str] = []
        for i in np.argsort(-np.asarray(weights), kind="stable").tolist():
            if int(cols[i]) not in skip:
                out.append(self.model.terms[int(cols[i])])
                if len(out) == n:
                    break
        return out
