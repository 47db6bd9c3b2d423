"""A large synthetic corpus for speed benchmarks: random clustered unit vectors, short titles."""

from __future__ import annotations

import numpy as np

from matcher.corpus import Corpus, build_corpus
from matcher.profiles import Profile, Work

__all__ = ["synthetic_corpus"]

COUNTRIES = ["DE", "FR", "IT", "ES", "PL", "TR", "NL", "GR", "PT", "RO", "KE", "NG", "US", "CN", "IN", "BR"]
WORDS = ("aquifer drought neural vaccine soil quantum heritage hydrogen battery robot migration seismic coral "
         "lidar protein galaxy enzyme cohort policy urban forest ocean tumour polymer sensor").split()


def synthetic_corpus(n_profiles: int, works_per_profile: int = 5, dim: int = 384, seed: int = 0) -> Corpus:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(64, dim)).astype(np.float32)
    topic = rng.integers(0, 64, n_profiles)
    n_works = n_profiles * works_per_profile
    vectors = centres[np.repeat(topic, works_per_profile)] + 0.8 * rng.normal(size=(n_works, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    profiles = []
    for i in range(n_profiles):
        words = [WORDS[(topic[i] + j) % len(WORDS)] for j in range(3)]
        works = tuple(Work(id=f"s{i}-w{j}", title=f"{words[j % 3]} {words[(j + 1) % 3]} study {j}")
                      for j in range(works_per_profile))
        profiles.append(Profile(id=f"s{i:06d}", name=f"Researcher {i}", country=COUNTRIES[i % len(COUNTRIES)],
                                works=works))
    return build_corpus(profiles, vectors)
