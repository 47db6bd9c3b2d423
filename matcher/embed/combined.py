"""The quality mode: several embedding models as one (MATCHER_MODELS).

Each text's vector is the concatenation of the models' unit vectors, each scaled by 1/sqrt(m) for
m models: the result is a unit vector, and the cosine of two such vectors is exactly the mean of the
models' cosines. Every later stage (index, scoring, batch) works on it unchanged. Averaging two
different models (all-MiniLM-L6-v2 with a domain-tuned copy, or with all-mpnet-base-v2 from a local
path) evens out each model's idiosyncratic errors, at the sum of their costs (docs/EVALUATION.md).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from matcher.embed.base import Embedder

__all__ = ["CombinedEmbedder", "combined_model_id"]


def combined_model_id(model_ids: Sequence[str]) -> str:
    """The cache key of a combination: its parts' keys, in order (the order sets the vector layout)."""
    return "mean(" + " | ".join(model_ids) + ")"


class CombinedEmbedder:
    def __init__(self, parts: Sequence[Embedder]):
        if len(parts) < 2:
            raise ValueError("a combination needs at least two models")
        self.parts = list(parts)
        self.model_id = combined_model_id([p.model_id for p in self.parts])
        self.dim = sum(int(p.dim) for p in self.parts)
        kernels = sorted({str(getattr(p, "kernel", "")) for p in self.parts} - {""})
        self.kernel = "+".join(kernels)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        scale = 1.0 / math.sqrt(len(self.parts))
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.hstack([p.embed(texts) * scale for p in self.parts]).astype(np.float32)
