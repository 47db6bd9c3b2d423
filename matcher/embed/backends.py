"""Where the transformer runs: torch fp32, ONNX Runtime fp32, or ONNX Runtime with dynamic int8.

An `Encoder` turns texts that fit the model's window into mean-pooled sentence vectors and
exposes the model's tokenizer; chunking of long texts and normalisation stay above it, in
`SentenceTransformerEmbedder`, the same for every backend.

Backends are registered by name with the numeric family of their vectors; the encoders live in
`matcher.embed.encoders`, the ONNX exports in `matcher.embed.onnx_export` (see models/README.md).
"""

from __future__ import annotations

import functools
import os
import platform
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from matcher.domain.errors import MatcherError
from matcher.embed.encoders import Encoder, OnnxEncoder, TorchEncoder
from matcher.embed.onnx_export import export_onnx

__all__ = [
    "BACKENDS",
    "DEFAULT_BACKEND",
    "Backend",
    "BackendSpec",
    "backend_spec",
    "register_backend",
    "Encoder",
    "OnnxEncoder",
    "TorchEncoder",
    "backend_model_id",
    "default_models_dir",
    "kernel_tag",
    "export_onnx",
    "int8_profile",
    "load_encoder",
    "usable_cpus",
]

Backend = Literal["torch", "onnx", "onnx-int8"]
BACKENDS: tuple[str, ...] = get_args(Backend)
DEFAULT_BACKEND: Backend = "onnx-int8"


def usable_cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def int8_profile(flags: frozenset[str] | None = None) -> str:
    """The dynamic-quantisation profile for this CPU: avx512_vnni, arm64, else avx2."""
    if platform.machine().lower() in {"arm64", "aarch64"}:
        return "arm64"
    return "avx512_vnni" if "avx512_vnni" in (_cpu_flags() if flags is None else flags) else "avx2"


@functools.cache
def _cpu_flags() -> frozenset[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    return frozenset(f for line in text.splitlines() if line.startswith("flags") for f in line.split(":", 1)[1].split())


def backend_model_id(base: str, backend: str) -> str:
    """The cache key of a model run on a backend: its numeric family, never the instruction set.

    int8 vectors must never mix with fp32 ones, so they get `+int8`. Which int8 kernel made them
    (AVX-512 VNNI, AVX2, arm64) is not part of the key: every kernel's int8 vectors stay within
    cosine 0.99 of fp32 and of each other (bench `embedding`, `int8_kernels_*`), so vectors made on
    one machine are used on every other. The kernel is kept as metadata (`kernel_tag`). ONNX fp32
    computes the same function as torch fp32 (cosine > 0.99999, differences at float rounding
    level, as between thread counts), so it shares torch's id and cache.
    """
    family = backend_spec(backend).family
    return base if family == "fp32" else f"{base}+{family}"


def kernel_tag(backend: str) -> str:
    """Metadata only: what computed a backend's vectors here (`int8-avx2`, `fp32`)."""
    family = backend_spec(backend).family
    return f"{family}-{int8_profile()}" if family == "int8" else family


def default_models_dir() -> Path:
    """`models/` of a source checkout when writable, else a per-user cache folder."""
    checkout = Path(__file__).resolve().parents[2] / "models"
    if checkout.is_dir() and os.access(checkout, os.W_OK):
        return checkout
    return Path.home() / ".cache" / "research-partner-matcher" / "models"


@dataclass(frozen=True)
class BackendSpec:
    """A registered backend: the numeric family of its vectors (the cache key says it) and how to
    load its encoder for a model folder, a number of threads and where exports go."""

    family: str  # "fp32" or "int8"
    load: Callable[[Path, int, Path], Encoder]


_REGISTRY: dict[str, BackendSpec] = {}


def register_backend(name: str, spec: BackendSpec) -> None:
    _REGISTRY[name] = spec


def backend_spec(name: str) -> BackendSpec:
    spec = _REGISTRY.get(name)
    if spec is None:
        raise MatcherError(f"unknown embedding backend '{name}'; choose one of {', '.join(_REGISTRY)}")
    return spec


def load_encoder(backend: str, path: Path, *, threads: int | None = None, models_dir: Path | None = None) -> Encoder:
    return backend_spec(backend).load(path, threads or usable_cpus(), models_dir or default_models_dir())


register_backend("torch", BackendSpec("fp32", lambda path, threads, models: TorchEncoder(path)))
register_backend("onnx", BackendSpec("fp32", lambda path, threads, models: OnnxEncoder(
    export_onnx(path, models), threads=threads)))
register_backend("onnx-int8", BackendSpec("int8", lambda path, threads, models: OnnxEncoder(
    export_onnx(path, models, int8=int8_profile()), threads=threads)))
