"""Relevance from per-work similarities: how a profile's many vectors become one score.

All functions are batch-first: they score many candidate rows against one query at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matcher.index.corpus import Corpus

__all__ = ["AGGREGATES", "ScoringConfig", "aggregate_segments", "text_relevance", "profile_relevance"]

AGGREGATES = ("max", "mean", "centroid", "top3", "softmax", "max_centroid")


@dataclass(frozen=True)
class ScoringConfig:
    """Knobs of the scorer; defaults are chosen by `matcher eval` (see docs/EVALUATION.md)."""

    aggregate: str = "max_centroid"
    lexical_weight: float = 0.3
    text_weight: float = 0.7  # for "profile + text" queries: share of the text's relevance
    softmax_temperature: float = 0.05
    activity_weight: float = 0.2  # prior for candidates with more works (log-scaled)
    partner_weight: float = 0.0  # bonus for the requester's earlier partners (co-authors, co-participants)
    candidates: int = 300

    def __post_init__(self) -> None:
        if self.aggregate not in AGGREGATES:
            raise ValueError(f"aggregate must be one of {', '.join(AGGREGATES)}")


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

    Returns (score per row, similarity matrix works_of(rows) x requester works).
    """
    works, starts = corpus.works_of(rows)
    mine = corpus.work_matrix(slice(*corpus.work_range(requester)))
    sims = corpus.work_sims(works, mine)  # (n_works, m)
    best_per_mine = _segment_max(sims, starts)  # (n_rows, m)
    centroid = corpus.summary_sims(rows, corpus.summaries(requester))
    if config.aggregate == "centroid":
        return centroid.astype(np.float32), sims
    return (0.5 * best_per_mine.mean(axis=1) + 0.5 * centroid).astype(np.float32), sims
