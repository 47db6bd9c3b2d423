"""What a ranked list says about itself: why a suggestion stands above one with a higher figure.

A list is ordered by the ranking score (relevance blended with the lexical score, plus the
activity prior), re-ranked for diversity. Its suggestions also show their strength, how close
they are (`matcher.score.strength`). Where the order and either figure disagree, the suggestion
says why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Listed", "order_notes"]


@dataclass(frozen=True)
class Listed:
    """One list's suggestions in display order: their figures and what the notes name."""

    scores: np.ndarray  # ranking score
    strength: np.ndarray
    lexical: np.ndarray  # the lexical score's part of the ranking score
    activity: np.ndarray  # the activity prior's part of the ranking score
    works: np.ndarray  # works of each suggestion
    vectors: np.ndarray  # summary vectors, L2-normalised
    names: Sequence[str]
    recency: np.ndarray | None = None  # the recency bonus's part of the ranking score
    role: np.ndarray | None = None  # the role prior's part of the ranking score


def order_notes(listed: Listed) -> list[str | None]:
    """A note for each suggestion out of order by score or by strength, None for the others.

    - Below a suggestion with a lower score: the diversity re-rank moved it down (the note names
      the suggestion above that it is most like); above one with a higher score: moved up.
    - Above a suggestion with a higher strength while its score is higher: the lexical score
      (shared key terms), the activity prior, recent activity or the kind of organisation put it
      there (the note says which).
    """
    scores = np.round(np.asarray(listed.scores, dtype=np.float64), 4)
    strength = np.round(np.asarray(listed.strength, dtype=np.float64), 2)
    notes: list[str | None] = []
    for p in range(len(scores)):
        parts = []
        if p and scores[:p].min() < scores[p]:
            sims = listed.vectors[:p] @ listed.vectors[p]
            q = int(np.argmax(sims))
            parts.append(f"moved down by the diversity re-rank: similar to {listed.names[q]} above "
                         f"({float(sims[q]):.2f})")
        below = np.arange(p + 1, len(scores))
        if below.size and scores[below].max() > scores[p]:
            parts.append("moved up by the diversity re-rank: unlike the suggestions above it")
        closer = below[(strength[below] > strength[p]) & (scores[below] <= scores[p])]
        if closer.size:
            q = int(closer[np.argmax(strength[closer])])
            parts.append(f"above closer matches (strength up to {strength[q]:.2f}) for {_why(listed, p, q)}")
        notes.append("; ".join(parts) or None)
    return notes


def _why(listed: Listed, p: int, q: int) -> str:
    reasons = []
    if listed.lexical[p] > listed.lexical[q]:
        reasons.append("more shared key terms")
    if listed.activity[p] > listed.activity[q]:
        reasons.append(f"a longer record ({int(listed.works[p])} works)")
    if listed.recency is not None and listed.recency[p] > listed.recency[q]:
        reasons.append("more recent activity")
    if listed.role is not None and listed.role[p] > listed.role[q]:
        reasons.append("its kind of organisation (one that often joins such partnerships)")
    return " and ".join(reasons) or "the blend of text and profile relevance"
