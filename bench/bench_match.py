"""Match latency in process: over the demo pool (real model and store), and over synthetic corpora of
10,000 and 100,000 profiles (5 works each, clustered random vectors; the query text is embedded by
the real model)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from bench.synthetic_corpus import synthetic_corpus
from bench.timing import latencies_ms, summary
from matcher import demo_store
from matcher.config import Config
from matcher.engine import Engine, MatchRequest
from matcher.matching import PreparedQuery, match
from matcher.rules import MatchRules

IDEAS = [
    "groundwater contamination modelling in transboundary aquifers",
    "drought tolerant crops and irrigation scheduling under climate change",
    "machine learning for early detection of antimicrobial resistance",
    "hydrogen storage materials for renewable energy systems",
    "cultural heritage digitisation and archaeology of the Silk Road",
]


def _demo() -> tuple[dict[str, object], Engine]:
    home = tempfile.mkdtemp()
    engine = Engine(Config(home=Path(home)))
    demo_store.load(engine)
    corpus = engine.corpus()
    rng = np.random.default_rng(0)
    ids = [corpus.ids[i] for i in rng.choice(len(corpus), 300, replace=False)]
    by_id = latencies_ms(lambda i: engine.match(MatchRequest(profile_id=ids[i % len(ids)], k=10)), 300)
    engine.match(MatchRequest(text="warm up the model", k=10))
    by_text = latencies_ms(lambda i: engine.match(MatchRequest(text=IDEAS[i % len(IDEAS)], k=10)), 100)
    out: dict[str, object] = {"demo_profiles": len(corpus), "demo_works": len(corpus.work_ids)}
    out.update(summary("demo_by_id", by_id))
    out.update(summary("demo_by_text", by_text))
    return out, engine


def _synthetic(n: int, engine: Engine) -> dict[str, object]:
    corpus = synthetic_corpus(n)
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


def run() -> dict[str, object]:
    out, engine = _demo()
    for n in (10_000, 100_000):
        out.update(_synthetic(n, engine))
    engine.store.close()
    return out
