"""The shipped demo pool: regenerate it, ship its vectors, and load both into a store."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from matcher.corpus import corpus_texts
from matcher.engine import Engine
from matcher.errors import MatcherError
from matcher.readers import read_profiles
from matcher.store import text_hash

__all__ = ["DEMO_DIR", "generate", "load", "write_vectors"]

DEMO_DIR = Path(__file__).resolve().parents[1] / "data" / "demo"


def generate(directory: Path) -> int:
    """Write the deterministic demo pool (profiles.jsonl, truth.json) to `directory`."""
    from matcher.demo import generate_pool, write_pool

    pool = generate_pool()
    write_pool(pool, directory)
    return len(pool.profiles)


def _pool_file(directory: Path) -> Path:
    path = directory / "profiles.jsonl"
    if not path.exists():
        raise MatcherError(f"no demo pool at {path}; run `matcher demo --generate {directory}`")
    return path


def write_vectors(engine: Engine, directory: Path = DEMO_DIR) -> Path:
    """Embed the demo pool with the engine's model and ship the vectors as float16 (no pickle)."""
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
    )
    tmp.replace(path)
    return path


def seed_cache(engine: Engine, directory: Path = DEMO_DIR) -> int:
    """Put the shipped vectors into the embedding cache when they come from the engine's model."""
    path = directory / "vectors.npz"
    if not path.exists():
        return 0
    with np.load(path, allow_pickle=False) as shipped:
        if str(shipped["model_id"]) != engine.embedder.model_id:
            return 0
        hashes = [str(h) for h in shipped["hashes"]]
        vectors = shipped["vectors"].astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    engine.store.put_vectors(engine.embedder.model_id, hashes, vectors)
    return len(hashes)


def load(engine: Engine, directory: Path = DEMO_DIR) -> str:
    """Ingest the demo pool into the engine's store, seeding the cache from the shipped vectors."""
    result = read_profiles(_pool_file(directory))
    if result.rejected:
        raise MatcherError(f"the demo pool has invalid records: {result.rejected[0]}")
    seeded = seed_cache(engine, directory)
    upserted = engine.add([p for _, p in result.profiles])
    corpus = engine.corpus()
    countries = len(set(corpus.countries.tolist()))
    return (
        f"demo pool ready in {engine.store.home}: {len(corpus)} profiles from {countries} countries, "
        f"{len(corpus.work_ids)} works (added {upserted.added}, updated {upserted.updated}, "
        f"unchanged {upserted.unchanged}; {seeded} shipped vectors used)"
    )
