"""Consortium benchmark: greedy quality against CP-SAT on small pools, and speed on a 100k pool.

Run from the project root: ``python -m bench.bench_consortium`` (prints the section as JSON).
Candidates are unit vectors near one or two random aspect vectors plus noise (coverage with some
structure); countries have Zipf-like sizes; the widening group is the product's own.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from matcher.assemble.consortium import TeamRules, assemble_exact, assemble_greedy, assemble_teams, shortlist  # noqa: E402
from matcher.domain.countries import get_group  # noqa: E402

__all__ = ["run", "quality", "speed"]

COUNTRIES = ("DE", "FR", "IT", "ES", "NL", "PL", "TR", "PT", "GR", "RO", "CZ", "HU", "SE", "AT",
             "BE", "DK", "FI", "IE", "SK", "SI", "HR", "BG", "LT", "LV", "EE", "CY", "MT", "LU",
             "NO", "CH")
WIDENING = get_group("widening").members


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _people(rng: np.random.Generator, aspects: np.ndarray, n: int) -> np.ndarray:
    """Unit vectors near one or two aspects each, with noise: coverage with some structure."""
    k, dim = aspects.shape
    main, side = rng.integers(0, k, n), rng.integers(0, k, n)
    mix = (aspects[main] * rng.uniform(0.3, 1.6, (n, 1))
           + aspects[side] * rng.uniform(0.0, 0.8, (n, 1))
           + rng.normal(0, 1 / np.sqrt(dim), (n, dim)))
    return _unit(mix).astype(np.float32)


def _countries(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    p = 1 / np.arange(1, k + 1)  # a few big countries, a long tail
    return np.array(COUNTRIES[:k])[rng.choice(k, n, p=p / p.sum())]


def quality(n_instances: int = 60, seed: int = 1) -> dict[str, float | int]:
    """Greedy (with and without local search) over exact objective, 30 candidates, 8 aspects,
    teams of 5 from at least 3 countries, at most 1 or 2 per country, one widening member.
    Instances without a feasible team (no widening candidate drawn) are redrawn."""
    rng = np.random.default_rng(seed)
    ratios: list[float] = []
    plain: list[float] = []
    t_greedy: list[float] = []
    t_exact: list[float] = []
    redrawn = 0
    while len(ratios) < n_instances:
        k = len(ratios)
        aspects = _unit(rng.normal(size=(8, 32)))
        coverage = np.clip(_people(rng, aspects, 30) @ aspects.T.astype(np.float32), 0, 1)
        weights = rng.dirichlet(np.full(8, 2.0))
        countries = [str(c) for c in _countries(rng, 30, 8)]
        rules = TeamRules(min_size=5, max_size=5, min_countries=3, max_per_country=1 + k % 2,
                          group_min=(("widening", WIDENING, 1),))
        if not WIDENING & set(countries):
            redrawn += 1
            continue
        t0 = time.perf_counter()
        greedy = assemble_greedy(coverage, weights, countries, rules)
        t1 = time.perf_counter()
        exact = assemble_exact(coverage, weights, countries, rules)
        t2 = time.perf_counter()
        plain.append(assemble_greedy(coverage, weights, countries, rules,
                                     local_search=False).score / exact.score)
        ratios.append(greedy.score / exact.score)
        t_greedy.append(t1 - t0)
        t_exact.append(t2 - t1)
    return {"instances": n_instances, "instances_redrawn": redrawn,
            "greedy_over_exact_mean": round(float(np.mean(ratios)), 4),
            "greedy_over_exact_min": round(float(np.min(ratios)), 4),
            "greedy_optimal_share": round(float(np.mean(np.array(ratios) > 1 - 1e-9)), 3),
            "greedy_no_local_search_over_exact_mean": round(float(np.mean(plain)), 4),
            "greedy_no_local_search_over_exact_min": round(float(np.min(plain)), 4),
            "greedy_ms_mean": round(1000 * float(np.mean(t_greedy)), 1),
            "exact_ms_mean": round(1000 * float(np.mean(t_exact)), 1)}


def speed(n: int = 100_000, dim: int = 384, n_aspects: int = 20, repetitions: int = 7,
          seed: int = 2) -> dict[str, float | int]:
    """Cached vectors -> coverage -> shortlist -> 3 greedy teams of 4..6, timed end to end."""
    rng = np.random.default_rng(seed)
    aspects = _unit(rng.normal(size=(n_aspects, dim))).astype(np.float32)
    vectors = _people(rng, aspects, n)
    weights = rng.dirichlet(np.full(n_aspects, 2.0))
    countries = _countries(rng, n, len(COUNTRIES))
    ids = np.array([f"p{i}" for i in range(n)])
    rules = TeamRules(min_size=4, max_size=6, min_countries=3, max_per_country=2,
                      group_min=(("widening", WIDENING, 2),), must_include=(12_345,))
    times: list[float] = []
    sizes: list[int] = []
    for _ in range(repetitions):
        t0 = time.perf_counter()
        coverage = np.clip(vectors @ aspects.T, 0, 1)
        rows = shortlist(coverage, weights, per_aspect=20, total=300, countries=countries,
                         per_country=rules.max_size, keep=rules.must_include)
        sub = replace(rules, must_include=tuple(int(np.searchsorted(rows, m))
                                                for m in rules.must_include))
        teams = assemble_teams(coverage[rows], weights, countries[rows].tolist(),
                               ids[rows].tolist(), sub, n_teams=3)
        times.append(time.perf_counter() - t0)
        sizes.append(len(rows))
        assert len(teams) == 3
    return {"assemble_100k_s_median": round(statistics.median(times), 3),
            "assemble_100k_s_min": round(min(times), 3), "assemble_100k_s_max": round(max(times), 3),
            "assemble_100k_repetitions": repetitions, "assemble_100k_shortlist": sizes[0],
            "assemble_100k_best_score": round(teams[0].score, 4)}


def run() -> dict[str, float | int]:
    """The consortium section of the benchmark report."""
    return {**quality(), **speed()}


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
