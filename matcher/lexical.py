"""The lexical component: TF-IDF over each profile's text, and the key terms behind a match."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from matcher.segments import segments_of

__all__ = ["LexicalIndex"]


class LexicalIndex:
    """TF-IDF document vectors (one per profile), L2-normalised, with term look-ups.

    `fit` takes any iterable of documents, read once, so a large store can be streamed through it.
    """

    def __init__(self, *, max_features: int = 200_000, min_df: int = 1, max_df: float = 0.5):
        self.max_features = max_features
        self.min_df = min_df
        self.max_df = max_df

    def fit(self, documents: Iterable[str], *, n_documents: int | None = None) -> LexicalIndex:
        if n_documents is None:
            documents = list(documents)
            n_documents = len(documents)
        self.vectorizer_: TfidfVectorizer | None = TfidfVectorizer(
            stop_words="english", sublinear_tf=True, min_df=self.min_df,
            max_df=self.max_df if n_documents >= 20 else 1.0,
            max_features=self.max_features, token_pattern=r"(?u)\b[^\W\d_][\w\-]{2,}\b",
            dtype=np.float32,
        )
        try:
            self.matrix_ = self.vectorizer_.fit_transform(documents).tocsr()
        except ValueError:  # no document has a term that is not a stop word: no lexical signal at all
            self.vectorizer_ = None
            self.matrix_ = sparse.csr_matrix((n_documents, 0), dtype=np.float32)
            self.terms_ = np.asarray([], dtype=object)
            return self
        # the terms dropped by max_df / max_features, kept by scikit-learn for introspection only;
        # on a large corpus they outweigh the vocabulary itself
        if hasattr(self.vectorizer_, "stop_words_"):
            del self.vectorizer_.stop_words_
        self.terms_ = self.vectorizer_.get_feature_names_out().astype(object)
        return self

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        if self.vectorizer_ is None:
            return sparse.csr_matrix((len(texts), 0), dtype=np.float32)
        return self.vectorizer_.transform(texts).tocsr()

    def scores(self, query: sparse.csr_matrix, rows: np.ndarray) -> np.ndarray:
        """Cosine between one query row and the documents at `rows` (read straight from the CSR
        arrays: scipy's row fancy-indexing costs more than the arithmetic at this size)."""
        dense = np.zeros(self.matrix_.shape[1], dtype=np.float32)
        dense[query.indices] = query.data
        positions, starts = segments_of(self.matrix_.indptr, rows)
        products = self.matrix_.data[positions] * dense[self.matrix_.indices[positions]]
        owner = np.repeat(np.arange(len(rows)), np.diff(np.append(starts, len(positions))))
        return np.bincount(owner, weights=products, minlength=len(rows)).astype(np.float32)

    def _row(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = self.matrix_.indptr[row], self.matrix_.indptr[row + 1]
        return self.matrix_.indices[lo:hi], self.matrix_.data[lo:hi]

    def shared_terms(self, query: sparse.csr_matrix, row: int, n: int = 5) -> list[str]:
        """The terms the document shares with the query, by product of their weights."""
        cols, weights = self._row(row)
        common, in_doc, in_query = np.intersect1d(cols, query.indices, assume_unique=True, return_indices=True)
        if not len(common):
            return []
        order = np.argsort(-(weights[in_doc] * query.data[in_query]), kind="stable")[:n]
        return [str(self.terms_[common[i]]) for i in order]

    def distinctive_terms(self, row: int, exclude: sparse.csr_matrix | None = None, n: int = 5) -> list[str]:
        """The document's heaviest terms that the query does not have."""
        cols, weights = self._row(row)
        skip = set(exclude.indices.tolist()) if exclude is not None else set()
        out: list[str] = []
        for i in np.argsort(-weights, kind="stable").tolist():
            if int(cols[i]) not in skip:
                out.append(str(self.terms_[cols[i]]))
                if len(out) == n:
                    break
        return out
