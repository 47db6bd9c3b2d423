"""The encoders: texts within the model's window -> mean-pooled float32 sentence vectors.

`TorchEncoder` runs the sentence-transformers model in torch (the reference); `OnnxEncoder` runs an
exported graph (`matcher.embed.onnx_export`) in ONNX Runtime with the model's own tokenizer.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from matcher.domain.errors import MatcherError

__all__ = ["Encoder", "OnnxEncoder", "TorchEncoder", "mean_pooling_dim"]


class Encoder(Protocol):
    """Texts within the model's window -> mean-pooled float32 sentence vectors (not yet normalised)."""

    tokenizer: Any
    max_seq_length: int
    dim: int

    def encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray: ...


class TorchEncoder:
    """The sentence-transformers model in torch, fp32 (the reference). It runs on torch's threads,
    whose number is process-wide and set once at the edge (`matcher.service.bootstrap`)."""

    def __init__(self, path: Path):
        from sentence_transformers import SentenceTransformer

        self.model_ = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        self.tokenizer = self.model_.tokenizer
        self.max_seq_length = int(self.model_.max_seq_length or 512)
        self.dim = int(self.model_.get_embedding_dimension() or 0)

    def encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        vectors = self.model_.encode(list(texts), batch_size=batch_size, convert_to_numpy=True)
        return vectors.astype(np.float32, copy=False)


class OnnxEncoder:
    """An exported model in ONNX Runtime, with the model's tokenizer and mean pooling.

    Each text is one single-threaded run, `threads` runs at a time. Dynamic int8 picks its
    activation scale per run, so a text's vector never depends on its batch-mates; nothing is
    padded; and a core taken by another process slows one worker instead of stalling a run that
    waits for all its threads (on the shared 2-core machine, one busy core cost batched 2-thread
    int8 runs ~50% of their speed, these workers ~40%; on an idle machine they are as fast or faster).
    """

    def __init__(self, onnx_file: Path, *, threads: int):
        import onnxruntime as ort
        from transformers import AutoTokenizer

        folder = onnx_file.parent.parent
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        self.session_ = ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
        self.tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        config = json.loads((folder / "sentence_bert_config.json").read_text())
        self.max_seq_length = int(config.get("max_seq_length", 512))
        self.dim = mean_pooling_dim(folder)
        self.workers = max(threads, 1)
        self._inputs = [i.name for i in self.session_.get_inputs()]

    def encode(self, texts: Sequence[str], batch_size: int = 1) -> np.ndarray:
        """`batch_size` is ignored: one text per run (see the class)."""
        ids = self.tokenizer(
            list(texts), truncation="longest_first", max_length=self.max_seq_length, return_token_type_ids=True
        )

        def one(row: int) -> np.ndarray:
            feed = {name: np.asarray(ids[name][row : row + 1], dtype=np.int64) for name in self._inputs}
            return self.session_.run(None, feed)[0][0].mean(axis=0)  # no padding: the mean over tokens

        order = sorted(range(len(texts)), key=lambda r: -len(ids["input_ids"][r]))  # longest first
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        if self.workers == 1 or len(texts) < 2:
            for row in order:
                out[row] = one(row)
            return out
        with ThreadPoolExecutor(min(self.workers, len(texts))) as pool:
            for row, vector in zip(order, pool.map(one, order), strict=True):
                out[row] = vector
        return out


def mean_pooling_dim(folder: Path) -> int:
    """The vector width, after checking the model is Transformer + mean Pooling (+ Normalize)."""
    modules = json.loads((folder / "modules.json").read_text()) if (folder / "modules.json").exists() else []
    kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
    pooling = next((m for m in modules if m["type"].endswith("Pooling")), None)
    config = json.loads((folder / pooling["path"] / "config.json").read_text()) if pooling else {}
    # sentence-transformers writes `pooling_mode_mean_tokens: true` (before 5.x) or `pooling_mode: "mean"`
    modes = {k for k, v in config.items() if k.startswith("pooling_mode_") and v is True}
    if isinstance(config.get("pooling_mode"), str):
        modes.add(f"pooling_mode_{config['pooling_mode']}_tokens")
    supported = kinds[:2] == ["Transformer", "Pooling"] and set(kinds[2:]) <= {"Normalize"}
    if not supported or modes != {"pooling_mode_mean_tokens"}:
        raise MatcherError(f"the onnx backends need a Transformer + mean Pooling model; {folder} has {kinds} {modes}")
    return int(config.get("word_embedding_dimension") or config["embedding_dimension"])
