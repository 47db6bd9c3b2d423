"""Recall of the demo generator's planted structure: do suggestions share the requester's fields?"""

from __future__ import annotations

from typing import Any

import numpy as np

from matcher.demo.pool import generate_pool
from matcher.demo.shipped import seed_cache
from matcher.domain.profiles import parse_profile
from matcher.index.corpus import build_corpus, corpus_texts
from matcher.rank.matching import rank
from matcher.score.query import PreparedQuery
from matcher.score.rules import MatchRules
from matcher.score.scoring import ScoringConfig
from matcher.service.engine import Engine

__all__ = ["synthetic_report"]


def synthetic_report(
    engine: Engine, variants: dict[str, ScoringConfig], *, queries: int = 200, seed: int = 0
) -> dict[str, Any]:
    """Field precision@10 of profile queries and of text queries (a work's title) on the demo pool."""
    pool = generate_pool()
    profiles = [parse_profile(p) for p in pool.profiles]
    seed_cache(engine)
    corpus = build_corpus(profiles, engine.embedder.embed(corpus_texts(profiles), desc="embedding demo pool"))
    rng = np.random.default_rng(seed)
    sample = rng.choice(len(profiles), min(queries, len(profiles)), replace=False)
    picks = [profiles[i].works[int(rng.integers(len(profiles[i].works)))] for i in sample]
    title_vectors = engine.embedder.embed([w.title for w in picks], desc="embedding titles")
    fields = {pid: set(t["fields"]) for pid, t in pool.truth.items()}
    work_field = {wid: f for t in pool.truth.values() for wid, f in t["works"].items()}
    out: dict[str, Any] = {"profiles": len(profiles), "queries": len(sample), "variants": {}}
    for name, config in variants.items():
        by_id, by_text = [], []
        for i, work, vector in zip(sample, picks, title_vectors, strict=True):
            me = profiles[int(i)].id
            ranked = rank(corpus, PreparedQuery(requester=int(i), k=10, rules=MatchRules(), diversity=0.1), config)
            if ranked:
                ids = [corpus.ids[r] for r in ranked[0].rows[ranked[1]]]
                by_id.append(np.mean([bool(fields[x] & fields[me]) for x in ids]))
            query = PreparedQuery(text=work.title, text_vector=vector, k=10, rules=MatchRules(), diversity=0.1)
            ranked = rank(corpus, query, config)
            if ranked:
                ids = [corpus.ids[r] for r in ranked[0].rows[ranked[1]]]
                by_text.append(np.mean([work_field[work.id] in fields[x] for x in ids]))
        out["variants"][name] = {
            "field_precision@10_by_id": round(float(np.mean(by_id)), 4),
            "field_precision@10_by_text": round(float(np.mean(by_text)), 4),
        }
    return out
