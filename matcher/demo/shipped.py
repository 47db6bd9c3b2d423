"""The shipped demo pool: regenerate it, ship its vectors, and load both into a store."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from matcher.domain.errors import MatcherError
from matcher.index.segment import corpus_texts
from matcher.ingest.readers import read_profiles
from matcher.service.engine import Engine
from matcher.store.base import family_model_id, text_hash

__all__ = ["DEMO_DIR", "Seeded", "generate", "load", "seed_cache", "write_vectors"]

log = logging.getLogger("matcher.demo.pool")

DEMO_DIR = Path(__file__).resolve().parents[2] / "data" / "demo"


def generate(directory: Path) -> int:
    """Write the deterministic demo pool (profiles.jsonl, truth.json) to `directory`."""
    from matcher.demo.pool import generate_pool, write_pool

    pool = generate_pool()
    write_pool(pool, directory)
    return len(pool.profiles)


def _pool_file(directory: Path) -> Path:
    path = directory / "profiles.jsonl"
    if not path.exists():
        raise MatcherError(f"no demo pool at {path}; run `matcher demo --generate {directory}`")
    return path


def write_vectors(engine: Engine, directory: Path = DEMO_DIR) -> Path:
    """Embed the demo pool with the engine's model and ship the vectors as float16 (no pickle),
    keyed by the model's numeric family, with the kernel that made them as metadata."""
    profiles = [p for _, p in read_profiles(_pool_file(directory)).profiles]
    texts = corpus_texts(profiles)
    vectors = engine.embedder.embed(texts, desc="embedding demo pool")
    path = directory / "vectors.npz"
    tmp = directory / ".vectors.tmp.npz"
    np.savez_compressed(
        tmp,
        hashes=np.asarray([text_hash(t) for t in texts]),
        vectors=vectors.astype(np.float16),
        model_id=np.asarray(engine.embedder.model_id),
        kernel=np.asarray(engine.embedder.kernel),
    )
    tmp.replace(path)
    return path


@dataclass(frozen=True)
class Seeded:
    """What the shipped vectors gave: how many were used, and why none were, if so."""

    used: int
    kernel: str = ""
    reason: str = ""


def seed_cache(engine: Engine, directory: Path = DEMO_DIR) -> Seeded:
    """Put the shipped vectors into the embedding cache when they come from the engine's model
    family (fp32 or int8), whichever CPU kernel made them."""
    path = directory / "vectors.npz"
    if not path.exists():
        return Seeded(0, reason=f"{path} is missing (`matcher demo --vectors` writes it)")
    with np.load(path, allow_pickle=False) as shipped:
        shipped_id = family_model_id(str(shipped["model_id"]))
        kernel = str(shipped["kernel"]) if "kernel" in shipped.files else "unknown"
        if shipped_id != engine.embedder.model_id:
            reason = f"the shipped vectors are from {shipped_id}; this store uses {engine.embedder.model_id}"
            return Seeded(0, kernel, reason)
        hashes = [str(h) for h in shipped["hashes"]]
        vectors = shipped["vectors"].astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    engine.store.put_vectors(engine.embedder.model_id, hashes, vectors)
    return Seeded(len(hashes), kernel)


def load(engine: Engine, directory: Path = DEMO_DIR, *, say: Callable[[str], None] = log.info) -> str:
    """Ingest the demo pool into the engine's store, seeding the cache from the shipped vectors."""
    result = read_profiles(_pool_file(directory))
    if result.rejected:
        raise MatcherError(f"the demo pool has invalid records: {result.rejected[0]}")
    profiles = [p for _, p in result.profiles]
    seeded = seed_cache(engine, directory)
    missing = engine.embedder.missing(corpus_texts(profiles))
    if missing:
        why = seeded.reason or f"{missing} of the pool's texts are not in the shipped vectors (the pool was edited)"
        say(f"embedding {missing} texts: {why}")
    upserted = engine.add(profiles)
    corpus = engine.corpus()
    countries = len(set(corpus.countries[corpus.active].tolist()))
    works = corpus.active_work_total()
    return (
        f"demo pool ready in {engine.store.home}: {corpus.n_active} profiles from {countries} countries, "
        f"{works} works (added {upserted.added}, updated {upserted.updated}, "
        f"unchanged {upserted.unchanged}; {seeded.used} shipped vectors used"
        + (f", made by the {seeded.kernel} kernel" if seeded.used else "")
        + (f"; {missing} texts embedded here" if missing else "; nothing embedded")
        + ")"
    )
