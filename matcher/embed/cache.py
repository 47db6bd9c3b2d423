"""Embedding through the store's cache: a text already embedded by the same model is never re-embedded."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Sequence

import numpy as np
from tqdm import tqdm

from matcher.embed.base import Embedder
from matcher.store.base import Store, text_hash

__all__ = ["CachedEmbedder"]

log = logging.getLogger("matcher.embed")


class CachedEmbedder:
    """An `Embedder` that wraps another (made by `factory`) with the store's (model id, text hash)
    cache.

    The model itself is only loaded when a text is missing from the cache, so queries by profile
    id and restarts over an embedded store never pay for loading it.
    """

    def __init__(
        self,
        store: Store,
        model_id: str,
        factory: Callable[[], Embedder],
        *,
        batch: int = 256,
        progress: bool = False,
        kernel: str = "",
    ):
        self.store = store
        self.model_id = model_id
        self.kernel = kernel  # metadata: what computes the vectors here (`int8-avx2`, `fp32`)
        self._factory = factory
        self._embedder: Embedder | None = None
        self._loading = threading.Lock()
        self.batch = batch
        self.progress = progress

    @property
    def embedder(self) -> Embedder:
        """The model, loaded on first use (once, whichever thread asks first)."""
        if self._embedder is None:
            with self._loading:
                if self._embedder is None:
                    embedder = self._factory()
                    if embedder.model_id != self.model_id:
                        raise RuntimeError(f"embedder says {embedder.model_id}, expected {self.model_id}")
                    self._embedder = embedder
        return self._embedder

    @property
    def dim(self) -> int:
        return int(self.embedder.dim)

    def load(self) -> None:
        """Load the model now (the server does it in the background at start)."""
        try:
            _ = self.embedder
        except Exception as err:  # reported again, to the caller, on first use
            log.warning("loading the embedding model failed: %s", err)

    def missing(self, texts: Sequence[str]) -> int:
        """How many distinct texts the cache does not hold yet (what `embed` would compute)."""
        hashes = list(dict.fromkeys(text_hash(t) for t in texts))
        return len(hashes) - len(self.store.cached_hashes(self.model_id, hashes))

    def embed_uncached(self, texts: Sequence[str]) -> np.ndarray:
        """Embed query texts without touching the cache."""
        return self.embedder.embed(texts)

    def embed(self, texts: Sequence[str], *, desc: str = "embedding") -> np.ndarray:
        hashes = [text_hash(t) for t in texts]
        found = self.store.cached_vectors(self.model_id, list(dict.fromkeys(hashes)))
        missing = list(dict.fromkeys(h for h in hashes if h not in found))
        if missing:
            by_hash = dict(zip(hashes, texts, strict=True))
            bar = tqdm(
                total=len(missing), desc=desc, unit="text", file=sys.stderr,
                disable=not self.progress, leave=False,
            )
            for start in range(0, len(missing), self.batch):
                chunk = missing[start : start + self.batch]
                vectors = self.embedder.embed([by_hash[h] for h in chunk])
                self.store.put_vectors(self.model_id, chunk, vectors)
                found.update(zip(chunk, vectors, strict=True))
                bar.update(len(chunk))
            bar.close()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([found[h] for h in hashes]).astype(np.float32, copy=False)
