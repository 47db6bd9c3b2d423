"""Match latency in process: over the demo pool (real model and store), and over synthetic corpora of
10,000 and 100,000 profiles (5 works each with a title and a ~100-word abstract, clustered random
vectors; the query text is embedded by the real model). Then the candidate scan alone at 100k for
each index (`ExactIndex` float16 PyTorch scan and float32 BLAS, `SklearnIndex` with scikit-learn's
cosine metric), through `VectorIndex.search`, with the float16 scan's recall of the float32 top 300.
And the cost of the non-text signals (BM25 normalised by the query, recency, the role prior) at 100k."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from bench.synthetic_corpus import synthetic_corpus
from bench.timing import latencies_ms, summary
from matcher.demo import shipped as demo_store
from matcher.index.corpus import Corpus
from matcher.index.vectors import ExactIndex, SklearnIndex, VectorIndex
from matcher.rank.matching import match
from matcher.score.query import PreparedQuery
from matcher.score.rules import MatchRules
from matcher.service.bootstrap import bootstrap
from matcher.service.config import Config
from matcher.service.engine import Engine, MatchRequest

IDEAS = [
    "groundwater contamination modelling in transboundary aquifers",
    "drought tolerant crops and irrigation scheduling under climate change",
    "machine learning for early detection of antimicrobial resistance",
    "hydrogen storage materials for renewable energy systems",
    "cultural heritage digitisation and archaeology of the Silk Road",
]


def _demo() -> tuple[dict[str, object], Engine]:
    home = tempfile.mkdtemp()
    engine = bootstrap(Config(home=Path(home))).engine
    demo_store.load(engine)
    corpus = engine.corpus()
    rng = np.random.default_rng(0)
    ids = [corpus.ids[i] for i in rng.choice(len(corpus), 300, replace=False)]
    by_id = latencies_ms(lambda i: engine.match(MatchRequest(profile_id=ids[i % len(ids)], k=10)), 300)
    engine.match(MatchRequest(text="warm up the model", k=10))
    by_text = latencies_ms(lambda i: engine.match(MatchRequest(text=IDEAS[i % len(IDEAS)], k=10)), 100)
    out: dict[str, object] = {"demo_profiles": corpus.n_active, "demo_works": len(corpus.work_ids)}
    out.update(summary("demo_by_id", by_id))
    out.update(summary("demo_by_text", by_text))
    return out, engine


def _synthetic(n: int, engine: Engine, corpus: Corpus | None = None) -> dict[str, object]:
    corpus = corpus or synthetic_corpus(n)
    rng = np.random.default_rng(1)
    rows = rng.choice(n, 300, replace=False)
    by_id = latencies_ms(lambda i: match(corpus, PreparedQuery(requester=int(rows[i % 300]), k=10)), 300)

    def by_text_once(i: int) -> None:
        text = IDEAS[i % len(IDEAS)]
        vector = engine.embedder.embed_uncached([text])[0]
        match(corpus, PreparedQuery(text=text, text_vector=vector, aspects=(text,), aspect_vectors=vector[None, :],
                                    k=10, rules=MatchRules()))

    by_text = latencies_ms(by_text_once, 100)
    label = f"{n // 1000}k"
    return {**summary(f"by_id_{label}", by_id), **summary(f"by_text_{label}", by_text)}


def _signals(corpus: Corpus, engine: Engine, n_queries: int = 100) -> dict[str, object]:
    """The non-text signals' cost at 100k: the same text queries with the shipped scoring and with
    BM25, recency and the role prior on, interleaved so both see the same machine."""
    from matcher.score.scoring import ScoringConfig

    vectors = engine.embedder.embed_uncached(IDEAS)
    on = ScoringConfig(lexical="bm25", recency_weight=0.05, role_weight=0.05)
    match(corpus, PreparedQuery(text=IDEAS[0], text_vector=vectors[0], k=10), on)  # the role table, once
    times: dict[str, list[float]] = {"default": [], "signals": []}
    for i in range(n_queries):
        query = PreparedQuery(text=IDEAS[i % len(IDEAS)], text_vector=vectors[i % len(IDEAS)], k=10)
        for name, config in (("default", ScoringConfig()), ("signals", on)):
            times[name].extend(latencies_ms(lambda _, c=config, q=query: match(corpus, q, c), 1, warmup=0))
    default, signals = float(np.median(times["default"])), float(np.median(times["signals"]))
    return {"by_text_100k_default_p50_ms": round(default, 2), "by_text_100k_signals_p50_ms": round(signals, 2),
            "by_text_100k_signals_over_default": round(signals / default, 3)}


def _index_methods(corpus_summary: np.ndarray, n_queries: int = 100) -> dict[str, object]:
    """The candidate scan alone, per index method, on the same 100k summaries and queries: latency
    (ratios from one run) and how many of float32's 300 nearest the float16 scan returns."""
    summary32 = corpus_summary.astype(np.float32)
    rng = np.random.default_rng(2)
    queries = summary32[rng.choice(len(summary32), n_queries, replace=False)]
    out: dict[str, object] = {}
    results = {}
    indexes: dict[str, VectorIndex] = {
        "half": ExactIndex().fit(corpus_summary), "blas": ExactIndex(precision="single").fit(summary32),
        "sklearn": SklearnIndex().fit(summary32),
    }
    for method, index in indexes.items():
        runs = n_queries if method != "sklearn" else 20
        times = latencies_ms(lambda i, index=index: index.search(queries[i % n_queries], 300), runs)
        out[f"scan_100k_{method}_p50_ms"] = round(float(np.median(times)), 2)
        results[method] = [set(index.search(q, 300)[0][0].tolist()) for q in queries[:20]]
    out["scan_100k_half_over_blas"] = round(out["scan_100k_half_p50_ms"] / out["scan_100k_blas_p50_ms"], 3)
    out["scan_100k_half_recall_at_300"] = round(
        float(np.mean([len(h & b) / 300 for h, b in zip(results["half"], results["blas"], strict=True)])), 4)
    return out


def run() -> dict[str, object]:
    out, engine = _demo()
    out.update(_synthetic(10_000, engine))
    corpus = synthetic_corpus(100_000)
    out.update(_synthetic(100_000, engine, corpus))
    out.update(_signals(corpus, engine))
    out.update(_index_methods(corpus.base.summary))
    engine.store.close()
    return out
