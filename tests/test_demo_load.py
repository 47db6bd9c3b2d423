"""The shipped demo vectors are used on every CPU: loading the demo pool embeds nothing, whichever
int8 kernel (AVX-512 VNNI, AVX2, arm64) made them and whichever this machine has."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from matcher.demo import shipped as demo_store
from matcher.embed import backends
from matcher.service.bootstrap import bootstrap, model_id_for
from matcher.service.config import Config


class NoModel:
    """An embedder that must never be loaded: any text embedded would fail the test."""

    def __init__(self) -> None:
        raise AssertionError("the model was loaded: something was re-embedded")


@pytest.mark.parametrize("shipped_kernel, this_kernel", [
    ("int8-avx512_vnni", "avx2"), ("int8-avx2", "avx512_vnni"), ("int8-arm64", "avx2"),
])
def test_demo_load_uses_shipped_vectors_from_any_kernel(tmp_path, monkeypatch, shipped_kernel, this_kernel):
    demo = tmp_path / "demo"
    demo.mkdir()
    shutil.copy(demo_store.DEMO_DIR / "profiles.jsonl", demo)
    with np.load(demo_store.DEMO_DIR / "vectors.npz", allow_pickle=False) as shipped:
        arrays = {name: shipped[name] for name in shipped.files}
    arrays["kernel"] = np.asarray(shipped_kernel)
    np.savez_compressed(demo / "vectors.npz", **arrays)
    monkeypatch.setattr(backends, "int8_profile", lambda flags=None: this_kernel)
    config = Config(home=tmp_path / "store")
    engine = bootstrap(config, embedder_factory=NoModel, model_id=model_id_for(config)).engine
    said: list[str] = []
    report = demo_store.load(engine, demo, say=said.append)
    assert said == []  # nothing to explain: nothing was embedded
    assert f"{len(arrays['hashes'])} shipped vectors used, made by the {shipped_kernel} kernel" in report
    assert "nothing embedded" in report and "1600 profiles from 57 countries" in report
    assert engine.embedder._embedder is None
    assert engine.state.snapshot.kernel == "custom"  # metadata: what built the snapshot here


def test_vectors_of_another_numeric_family_are_not_used_and_the_reason_is_given(tmp_path):
    config = Config(home=tmp_path / "store", backend="torch")  # fp32: the shipped vectors are int8
    engine = bootstrap(config, embedder_factory=NoModel, model_id=model_id_for(config)).engine
    seeded = demo_store.seed_cache(engine)
    assert seeded.used == 0 and "+int8" in seeded.reason and "this store uses" in seeded.reason
