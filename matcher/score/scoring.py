"""Relevance from per-work similarities: how a profile's many vectors become one score.

All functions are batch-first: they score many candidate rows against one query at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matcher.index.corpus import Corpus

__all__ = [
    "AGGREGATES", "LEXICAL", "ScoringConfig", "activity", "aggregate_segments", "profile_relevance", "text_relevance",
]

AGGREGATES = ("max", "mean", "centroid", "top3", "softmax", "max_centroid")
LEXICAL = ("tfidf", "bm25")


@dataclass(frozen=True)
class ScoringConfig:
    """Knobs of the scorer; defaults are chosen by `matcher eval` (see docs/EVALUATION.md)."""

    aggregate: str = "max_centroid"
    lexical_weight: float = 0.3
    lexical: str = "tfidf"  # tfidf: cosine of TF-IDF rows; bm25: see LexicalRows.saturated_scores
    bm25_k1: float = 1.2
    bm25_b: float = 0.75
    text_weight: float = 0.7  # for "profile + text" queries: share of the text's relevance
    softmax_temperature: float = 0.05
    activity_weight: float = 0.2  # prior for candidates with more works (log-scaled)
    activity_full_at: int = 44  # texts at which the activity prior reaches its full weight (fixed, not the pool's)
    partner_weight: float = 0.0  # bonus for the requester's earlier partners (co-authors, co-participants)
    recency_weight: float = 0.0  # bonus for recent activity (see matcher.score.signals.recency)
    recency_half_life: float = 2.0  # years since the last dated work at which the recency bonus halves
    role_weight: float = 0.0  # prior from the candidate's role (CORDIS activityType, SME) and the requester's
    candidates: int = 300

    def __post_init__(self) -> None:
        if self.aggregate not in AGGREGATES:
            raise ValueError(f"aggregate must be one of {', '.join(AGGREGATES)}")
        if self.lexical not in LEXICAL:
            raise ValueError(f"lexical must be one of {', '.join(LEXICAL)}")
        if self.activity_full_at < 1:
            raise ValueError("activity_full_at must be at least 1")
        if self.recency_half_life <= 0:
            raise ValueError("recency_half_life must be positive")


def activity(work_counts: np.ndarray, config: ScoringConfig) -> np.ndarray:
    """The activity prior in [0, 1]: log(1 + texts) / log(1 + `activity_full_at`), capped at 1.

    The scale is fixed, not the pool's most active profile: a profile's prior does not change when
    someone else joins, and in a small pool of people with a few works each the prior stays small
    (2 against 8 texts: 0.29 against 0.58, so 0.06 apart at the default weight), reordering
    near-ties instead of overturning relevance. 44 is the most texts of any organisation in the
    evaluation data, so the figures there are those of the pool-relative scale it replaced.
    """
    counts = np.asarray(work_counts, dtype=np.float64)
    return np.minimum(1.0, np.log1p(counts) / np.log1p(config.activity_full_at)).astype(np.float32)


def _segment_max(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    return np.maximum.reduceat(values, starts, axis=0)


def aggregate_segments(
    sims: np.ndarray, starts: np.ndarray, centroid: np.ndarray, config: ScoringConfig
) -> np.ndarray:
    """Per-candidate scores from per-work similarities `sims` (segments begin at `starts`)."""
    counts = np.diff(np.append(starts, len(sims)))
    how = config.aggregate
    if how == "centroid":
        return centroid
    if how == "max":
        return _segment_max(sims, starts)
    if how == "mean":
        return np.add.reduceat(sims, starts) / counts
    if how == "max_centroid":
        return 0.5 * _segment_max(sims, starts) + 0.5 * centroid
    if how == "softmax":
        t = config.softmax_temperature
        top = np.repeat(_segment_max(sims, starts), counts)
        w = np.exp((sims - top) / t)
        return np.add.reduceat(w * sims, starts) / np.add.reduceat(w, starts)
    # top3: mean of the three best works (fewer if the profile has fewer)
    out = np.empty(len(starts), dtype=np.float32)
    for i, (s, c) in enumerate(zip(starts, counts, strict=True)):
        seg = sims[s : s + c]
        out[i] = np.sort(seg)[-3:].mean()
    return out


def text_relevance(
    corpus: Corpus, rows: np.ndarray, query: np.ndarray, config: ScoringConfig
) -> tuple[np.ndarray, np.ndarray]:
    """(dense score per candidate row, per-work similarities in `works_of(rows)` order)."""
    works, starts = corpus.works_of(rows)
    sims = corpus.work_sims(works, query)
    centroid = corpus.summary_sims(rows, query)
    return aggregate_segments(sims, starts, centroid, config).astype(np.float32), sims


def profile_relevance(
    corpus: Corpus, rows: np.ndarray, requester: int, config: ScoringConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Similarity of candidates to a requester profile: for each requester work, the candidate's
    best matching work (aggregated over the requester's works), blended with the summaries.

    The requester's keyword list (a pseudo-work) counts through the summary only when the profile
    has real works: matched against another keyword list, a few words each, it is close on generic
    words ("... engineering") more than on topics.

    Returns (score per row, similarity matrix works_of(rows) x requester works).
    """
    works, starts = corpus.works_of(rows)
    lo, hi = corpus.work_range(requester)
    if corpus.has_keywords[requester] and hi - lo > 1:
        hi -= 1  # the keywords are the last work
    mine = corpus.work_matrix(slice(lo, hi))
    sims = corpus.work_sims(works, mine)  # (n_works, m)
    best_per_mine = _segment_max(sims, starts)  # (n_rows, m)
    centroid = corpus.summary_sims(rows, corpus.summaries(requester))
    if config.aggregate == "centroid":
        return centroid.astype(np.float32), sims
    return (0.5 * best_per_mine.mean(axis=1) + 0.5 * centroid).astype(np.float32), sims
