"""The `Embedder` contract, run against every embedder: the fake, the store's cache around it (on
both stores), and the real model on each registered backend (integration)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from matcher.embed.base import Embedder
from matcher.embed.cache import CachedEmbedder
from matcher.store.sqlite import SqliteStore
from matcher.testing import FakeEmbedder
from matcher.testing.memory import MemoryStore

TEXTS = [
    "Groundwater recharge in karst aquifers under drought.",
    "Transformer language models for low-resource machine translation.",
    "x",
    "Soil moisture sensing with low-cost radar for irrigation scheduling in semi-arid farms.",
]


def check_contract(embedder: Embedder, *, semantic: bool = False) -> None:
    assert isinstance(embedder, Embedder) and embedder.model_id and embedder.dim > 0
    vectors = embedder.embed(TEXTS)
    assert vectors.shape == (len(TEXTS), embedder.dim) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(embedder.embed(TEXTS), vectors, atol=1e-6)  # deterministic
    alone = np.stack([embedder.embed([t])[0] for t in TEXTS])
    np.testing.assert_allclose(alone, vectors, atol=1e-4)  # a text's vector does not depend on its batch
    assert embedder.embed([]).shape == (0, embedder.dim)
    if semantic:  # a real model: water and soil are nearer than water and translation
        sims = vectors @ vectors.T
        assert sims[0, 3] > sims[0, 1]


FAST: dict[str, Callable[[object], Embedder]] = {
    "fake": lambda tmp: FakeEmbedder(),
    "cached-sqlite": lambda tmp: CachedEmbedder(SqliteStore(tmp), "fake-hash-64", FakeEmbedder),
    "cached-memory": lambda tmp: CachedEmbedder(MemoryStore(tmp), "fake-hash-64", FakeEmbedder),
}


@pytest.mark.parametrize("kind", sorted(FAST))
def test_contract(kind, tmp_path):
    check_contract(FAST[kind](tmp_path))


def test_the_cache_embeds_each_text_once(tmp_path):
    fake = FakeEmbedder()
    cached = CachedEmbedder(SqliteStore(tmp_path), fake.model_id, lambda: fake)
    first = cached.embed(TEXTS + TEXTS[:1])
    assert fake.texts_embedded == len(TEXTS) and cached.missing(TEXTS) == 0
    np.testing.assert_array_equal(cached.embed(TEXTS), first[: len(TEXTS)])
    assert fake.texts_embedded == len(TEXTS)


@pytest.mark.integration
@pytest.mark.parametrize("backend", ["torch", "onnx", "onnx-int8"])
def test_contract_real_model(backend, tmp_path_factory):
    from matcher.embed.sentence import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder(backend=backend, models_dir=tmp_path_factory.mktemp("models"))
    check_contract(embedder, semantic=True)
