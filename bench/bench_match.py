"""Match latency over the demo pool, in process: by profile id and by text (embedding included)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from bench.timing import latencies_ms, summary
from matcher import demo_store
from matcher.config import Config
from matcher.engine import Engine, MatchRequest

IDEAS = [
    "groundwater contamination modelling in transboundary aquifers",
    "drought tolerant crops and irrigation scheduling under climate change",
    "machine learning for early detection of antimicrobial resistance",
    "hydrogen storage materials for renewable energy systems",
    "cultural heritage digitisation and archaeology of the Silk Road",
]


def run() -> dict[str, object]:
    with tempfile.TemporaryDirectory() as home:
        engine = Engine(Config(home=Path(home)))
        demo_store.load(engine)
        corpus = engine.corpus()
        rng = np.random.default_rng(0)
        ids = [corpus.ids[i] for i in rng.choice(len(corpus), 300, replace=False)]
        by_id = latencies_ms(lambda i: engine.match(MatchRequest(profile_id=ids[i % len(ids)], k=10)), 300)
        engine.match(MatchRequest(text="warm up the model", k=10))
        by_text = latencies_ms(lambda i: engine.match(MatchRequest(text=IDEAS[i % len(IDEAS)], k=10)), 100)
        engine.store.close()
    out: dict[str, object] = {"demo_profiles": len(corpus), "demo_works": len(corpus.work_ids)}
    out.update(summary("demo_by_id", by_id))
    out.update(summary("demo_by_text", by_text))
    return out
