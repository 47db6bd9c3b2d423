"""The embedding backends: one contract for all, and the fast ones stay faithful to torch fp32."""

from __future__ import annotations

import json
import platform
from pathlib import Path

import numpy as np
import pydantic
import pytest

from matcher.demo import shipped as demo_store
from matcher.domain.errors import MatcherError
from matcher.embed import backends, onnx_export
from matcher.embed.backends import BACKENDS, DEFAULT_BACKEND, backend_model_id, export_onnx, int8_profile
from matcher.embed.sentence import DEFAULT_MODEL_ID, SentenceTransformerEmbedder
from matcher.ingest.readers import read_profiles
from matcher.service.bootstrap import model_id_for
from matcher.service.config import Config, load_config
from matcher.store.base import family_model_id

FAST = [b for b in BACKENDS if b != "torch"]
MIN_COSINE = {"onnx": 0.9999, "onnx-int8": 0.98}
MIN_OVERLAP = {"onnx": 0.98, "onnx-int8": 0.9}

# -- no model needed ----------------------------------------------------------------------------


def test_backends_and_default():
    assert BACKENDS == ("torch", "onnx", "onnx-int8")
    assert DEFAULT_BACKEND in BACKENDS
    assert Config(home=Path("x")).backend == DEFAULT_BACKEND


def test_int8_vectors_get_their_own_model_id_whatever_the_cpu(monkeypatch):
    from matcher.embed import backends

    assert backend_model_id(DEFAULT_MODEL_ID, "torch") == DEFAULT_MODEL_ID
    assert backend_model_id(DEFAULT_MODEL_ID, "onnx") == DEFAULT_MODEL_ID  # same function, same cache
    int8 = backend_model_id(DEFAULT_MODEL_ID, "onnx-int8")
    assert int8 == f"{DEFAULT_MODEL_ID}+int8"
    for kernel in ("avx2", "avx512_vnni", "arm64"):  # the kernel is metadata, never part of the key
        monkeypatch.setattr(backends, "int8_profile", lambda kernel=kernel: kernel)
        assert backend_model_id(DEFAULT_MODEL_ID, "onnx-int8") == int8
        assert backends.kernel_tag("onnx-int8") == f"int8-{kernel}"
    assert family_model_id(f"{DEFAULT_MODEL_ID}+onnx-int8-avx512_vnni") == int8  # keys of earlier stores
    with pytest.raises(MatcherError, match="unknown embedding backend"):
        backend_model_id(DEFAULT_MODEL_ID, "tpu")


@pytest.mark.skipif(platform.machine().lower() in {"arm64", "aarch64"}, reason="x86 profiles")
def test_int8_profile_follows_the_cpu():
    assert int8_profile(frozenset({"avx2", "avx512f", "avx512_vnni"})) == "avx512_vnni"
    assert int8_profile(frozenset({"avx2", "fma"})) == "avx2"


def test_backend_is_one_setting(monkeypatch, tmp_path):
    monkeypatch.setenv("MATCHER_HOME", str(tmp_path))
    for backend in BACKENDS:
        monkeypatch.setenv("MATCHER_BACKEND", backend)
        config = load_config()
        assert config.backend == backend
        assert model_id_for(config) == backend_model_id(DEFAULT_MODEL_ID, backend)
    monkeypatch.setenv("MATCHER_BACKEND", "tpu")
    with pytest.raises(pydantic.ValidationError):
        load_config()


def test_explicit_model_ids_are_marked_too():
    config = Config(home=Path("x"), model_id="my-model", backend="onnx-int8")
    assert model_id_for(config) == "my-model+int8"


def test_onnx_backends_refuse_models_they_cannot_reproduce(tmp_path):
    model = tmp_path / "cls-model"
    (model / "1_Pooling").mkdir(parents=True)
    (model / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]))
    (model / "1_Pooling" / "config.json").write_text(json.dumps(
        {"word_embedding_dimension": 8, "pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}
    ))
    with pytest.raises(MatcherError, match="mean Pooling"):
        export_onnx(model, tmp_path / "models")
    assert not (tmp_path / "models").exists()


# -- the real packaged model --------------------------------------------------------------------


def _corpus() -> list[str]:
    """60 demo texts across the pool: 40 titles + abstracts and 20 keyword strings."""
    profiles = [p for _, p in read_profiles(demo_store.DEMO_DIR / "profiles.jsonl").profiles]
    step = len(profiles) // 40
    works = [profiles[i * step].works[0].text for i in range(40)]
    keywords = [profiles[i * step + step // 2].keyword_text for i in range(20)]
    return works + keywords


def _top10(vectors: np.ndarray) -> list[set[int]]:
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -np.inf)
    return [set(row) for row in np.argsort(-sims, axis=1)[:, :10]]


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh models/ folder: every run exports as a clean clone would."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def embedders(models_dir: Path) -> dict[str, SentenceTransformerEmbedder]:
    return {b: SentenceTransformerEmbedder(backend=b, models_dir=models_dir) for b in BACKENDS}  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def vectors(embedders) -> dict[str, np.ndarray]:
    texts = _corpus()
    return {b: e.embed(texts) for b, e in embedders.items()}


@pytest.mark.integration
@pytest.mark.parametrize("backend", FAST)
def test_fast_backends_stay_close_to_torch_fp32(vectors, backend):
    reference, fast = vectors["torch"], vectors[backend]
    assert np.sum(reference * fast, axis=1).mean() >= MIN_COSINE[backend]
    overlap = np.mean([len(a & b) / 10 for a, b in zip(_top10(reference), _top10(fast), strict=True)])
    assert overlap >= MIN_OVERLAP[backend]


@pytest.mark.integration
@pytest.mark.parametrize("backend", BACKENDS)
def test_contract_normalised_384_deterministic(embedders, vectors, backend):
    embedder = embedders[backend]
    assert embedder.dim == 384 and embedder.model_id == model_id_for(Config(home=Path("x"), backend=backend))
    out = vectors[backend]
    assert out.shape == (60, 384) and out.dtype == np.float32
    assert np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    texts = _corpus()
    assert np.array_equal(embedder.embed(texts[:7]), embedder.embed(texts[:7]))
    assert embedder.embed([]).shape == (0, 384)


@pytest.mark.integration
@pytest.mark.parametrize("backend", FAST)
def test_a_texts_vector_does_not_depend_on_its_batch(embedders, vectors, backend):
    texts = _corpus()
    alone = np.vstack([embedders[backend].embed([t]) for t in texts[:5]])
    assert np.allclose(alone, vectors[backend][:5], atol=1e-5)


@pytest.mark.integration
@pytest.mark.parametrize("backend", BACKENDS)
def test_long_texts_are_chunked_not_cut(embedders, backend):
    embedder = embedders[backend]
    head = "Groundwater contamination by nitrate in karst aquifers of the Mediterranean basin. " * 20
    tail = "Quantum error correction with superconducting qubits and surface codes. " * 20
    assert embedder.count_tokens(head) > 256
    whole, only_head = embedder.embed([head + tail, head])
    assert float(whole @ only_head) < 0.95


@pytest.mark.integration
def test_export_is_cached_and_recorded(embedders, models_dir, monkeypatch):
    folder = models_dir / onnx_export.PACKAGED_NAME
    files = sorted((folder / "onnx").glob("*.onnx"))
    names = sorted(f.name for f in files)
    assert len(names) == 2 and names[0] == "model.onnx" and names[1].endswith(f"int8_{int8_profile()}.onnx")
    stamp = json.loads((folder / "onnx" / "export.json").read_text())
    assert set(stamp["files"]) == {f.name for f in files} and len(stamp["source_sha256"]) == 64
    before = {f.name: f.stat().st_mtime_ns for f in files}

    def no_export(*args, **kwargs):
        raise AssertionError("exported again")

    monkeypatch.setattr(onnx_export, "_export_fp32", no_export)
    monkeypatch.setattr(onnx_export, "_quantise", no_export)
    for backend in FAST:
        again = SentenceTransformerEmbedder(backend=backend, models_dir=models_dir)  # type: ignore[arg-type]
        assert np.array_equal(again.embed(["karst aquifers"]), embedders[backend].embed(["karst aquifers"]))
    assert {f.name: f.stat().st_mtime_ns for f in files} == before


@pytest.mark.integration
def test_threads_are_set_explicitly(models_dir, tmp_path):
    """ONNX: `threads` single-threaded runs at a time. torch's thread count is process-wide: set
    once, at the edge, to one for the vector scans, or to `threads` when torch also embeds."""
    import torch

    from matcher.service.bootstrap import bootstrap

    for threads, expected in ((1, 1), (None, backends.usable_cpus())):
        onnx = SentenceTransformerEmbedder(backend="onnx", threads=threads, models_dir=models_dir)
        assert onnx.encoder_.workers == expected
        assert onnx.encoder_.session_.get_session_options().intra_op_num_threads == 1
        bootstrap(Config(home=tmp_path / "t", backend="torch", threads=threads)).close()
        assert torch.get_num_threads() == expected
        bootstrap(Config(home=tmp_path / "i", backend="onnx-int8", threads=threads)).close()
        assert torch.get_num_threads() == 1
