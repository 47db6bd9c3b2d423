"""Where match strength comes from: the relevance of real partners in the CORDIS split.

Every member of a consortium that formed is a partner someone actually chose. How close such
partners were to what they were chosen for, as relevance, gives the scale `matcher.score.strength`
reads: a suggestion's strength is the share of real partners that were less close than it.

- *text*: each project's text (title and objective) against every member with a profile;
- *profile*: the coordinator's profile against the other members' profiles;
- *pair*: the same pairs, as the cosine of the two profiles' summaries (what batch matching scores).

Profile and pair leave out members that had an earlier project with the coordinator: their
profiles hold the same project text, which would make real partners look closer than any
suggestion of someone new can be.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from matcher.evaluation.consortia import EvalQuery
from matcher.index.corpus import Corpus
from matcher.score.scoring import ScoringConfig, profile_relevance, text_relevance

__all__ = ["PERCENTILES", "partner_relevance", "percentiles"]

PERCENTILES = tuple(range(0, 101, 5))


def partner_relevance(
    corpus: Corpus, queries: Sequence[EvalQuery], query_vectors: np.ndarray, config: ScoringConfig
) -> dict[str, np.ndarray]:
    """Relevance of every real partner, by kind ("text", "profile", "pair"; see the module)."""
    out: dict[str, list[np.ndarray]] = {"text": [], "profile": [], "pair": []}
    for query, vector in zip(queries, query_vectors, strict=True):
        members = np.asarray(sorted(corpus.row_of[t] for t in query.idea_targets), dtype=np.int64)
        out["text"].append(text_relevance(corpus, members, vector, config)[0])
        if query.coordinator is None:
            continue
        coordinator = corpus.row_of[query.coordinator]
        earlier = corpus.linked_rows(coordinator)
        others = np.asarray(
            sorted(corpus.row_of[t] for t in query.coordinator_targets if corpus.row_of[t] not in earlier),
            dtype=np.int64,
        )
        if others.size:
            out["profile"].append(profile_relevance(corpus, others, coordinator, config)[0])
            out["pair"].append(corpus.summary_sims(others, corpus.summaries(coordinator)))
    return {kind: np.concatenate(parts).astype(np.float64) if parts else np.zeros(0) for kind, parts in out.items()}


def percentiles(values: np.ndarray) -> tuple[float, ...]:
    """The values at `PERCENTILES`, rounded to 3 decimals: the table `matcher.score.strength` holds
    (empty when a small split has no partner of that kind)."""
    if not len(values):
        return ()
    return tuple(round(float(v), 3) for v in np.percentile(values, PERCENTILES))
