"""Large synthetic pools for the speed and memory benchmarks: clustered random unit vectors and
profiles shaped like real ones (a title and a ~100-word abstract per work, drawn from a Zipf-like
vocabulary of 30,000 words with topic words mixed in, a year per work, a role), in memory or written
into a real store. They list no co-authors."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from matcher.domain.profiles import ROLES, Profile, Work
from matcher.index.corpus import Corpus, build_corpus, corpus_texts
from matcher.store.base import text_hash
from matcher.store.sqlite import SqliteStore as Store

__all__ = ["synthetic_corpus", "synthetic_profiles", "synthetic_store", "synthetic_vectors"]

COUNTRIES = ["DE", "FR", "IT", "ES", "PL", "TR", "NL", "GR", "PT", "RO", "KE", "NG", "US", "CN", "IN", "BR"]
TOPIC_WORDS = ("aquifer drought neural vaccine soil quantum heritage hydrogen battery robot migration seismic coral "
               "lidar protein galaxy enzyme cohort policy urban forest ocean tumour polymer sensor").split()
_SYLLABLES = "ka lo mi ne ru ta vo zi pe da fo gu hi ja ke li mo nu pa re si tu va we xi yo ze bo".split()
VOCABULARY = [a + b + c for a in _SYLLABLES for b in _SYLLABLES for c in _SYLLABLES][:30_000]
N_TOPICS = 64


def _topics(n_profiles: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, N_TOPICS, n_profiles)


def synthetic_vectors(n_profiles: int, works_per_profile: int = 5, dim: int = 384, seed: int = 0) -> np.ndarray:
    """(n_profiles * works_per_profile, dim) float32 unit vectors around each profile's topic centre."""
    rng = np.random.default_rng(seed + 1)
    centres = rng.standard_normal((N_TOPICS, dim), dtype=np.float32)
    owner_topic = np.repeat(_topics(n_profiles, seed), works_per_profile)
    out = np.empty((len(owner_topic), dim), dtype=np.float32)
    for lo in range(0, len(out), 65_536):  # in blocks: no float64 temporaries the size of the pool
        hi = min(lo + 65_536, len(out))
        block = centres[owner_topic[lo:hi]] + 0.8 * rng.standard_normal((hi - lo, dim), dtype=np.float32)
        out[lo:hi] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def synthetic_profiles(
    n_profiles: int, works_per_profile: int = 5, abstract_words: int = 100, seed: int = 0
) -> Iterator[Profile]:
    """Profiles in id order, each with `works_per_profile` works (title and abstract)."""
    rng = np.random.default_rng(seed + 2)
    topic = _topics(n_profiles, seed)
    ranks = np.arange(1, len(VOCABULARY) + 1)
    zipf = (1.0 / ranks) / (1.0 / ranks).sum()
    for i in range(n_profiles):
        words = [TOPIC_WORDS[(topic[i] + j) % len(TOPIC_WORDS)] for j in range(3)]
        drawn = rng.choice(len(VOCABULARY), size=(works_per_profile, abstract_words), p=zipf)
        works = tuple(
            Work(
                id=f"s{i}-w{j}",
                title=f"{words[j % 3]} {words[(j + 1) % 3]} study {j}",
                abstract=" ".join([words[j % 3], *(VOCABULARY[w] for w in drawn[j])]) if abstract_words else "",
                year=2000 + (i + 3 * j) % 25,
            )
            for j in range(works_per_profile)
        )
        yield Profile(id=f"s{i:06d}", name=f"Researcher {i}", country=COUNTRIES[i % len(COUNTRIES)],
                      institution=f"Institute {i % 5000}", works=works, role=ROLES[i % len(ROLES)], sme=i % 7 == 0)


def synthetic_corpus(
    n_profiles: int, works_per_profile: int = 5, dim: int = 384, seed: int = 0, abstract_words: int = 100
) -> Corpus:
    profiles = synthetic_profiles(n_profiles, works_per_profile, abstract_words, seed)
    return build_corpus(profiles, synthetic_vectors(n_profiles, works_per_profile, dim, seed))


def synthetic_store(
    home: Path, n_profiles: int, model_id: str, works_per_profile: int = 5, seed: int = 0, batch: int = 5000
) -> Store:
    """A real store holding the synthetic pool, its vectors already in the embedding cache under
    `model_id` (embedding 500,000 texts with the model would take an hour on this machine)."""
    store = Store(home)
    vectors = synthetic_vectors(n_profiles, works_per_profile, seed=seed)
    profiles = synthetic_profiles(n_profiles, works_per_profile, seed=seed)
    done = 0
    while chunk := list(itertools.islice(profiles, batch)):
        store.upsert(chunk)
        texts = corpus_texts(chunk)
        store.put_vectors(model_id, [text_hash(t) for t in texts], vectors[done : done + len(texts)])
        done += len(texts)
    return store
