"""The lexical component: TF-IDF over each profile's text, and the key terms behind a match."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

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
        """Cosine between one query row and the documents at `rows`."""
        return np.asarray((self.matrix_[rows] @ query.T).toarray()).ravel().astype(np.float32)

    def shared_terms(self, query: sparse.csr_matrix, row: int, n: int = 5) -> list[str]:
        doc = self.matrix_[row]
        product = doc.multiply(query)
        if product.nnz == 0:
            return []
        coo = product.tocoo()
        order = np.argsort(-coo.data, kind="stable")[:n]
        return [str(self.terms_[coo.col[i]]) for i in order]

    def distinctive_terms(self, row: int, exclude: sparse.csr_matrix | None = None, n: int = 5) -> list[str]:
        """The document's heaviest terms that the query does not have."""
        doc = self.matrix_[row].tocoo()
        skip = set(exclude.indices.tolist()) if exclude is not None else set()
        order = np.argsort(-doc.data, kind="stable")
        out = [str(self.terms_[doc.col[i]]) for i in order if doc.col[i] not in skip]
        return out[:n]
