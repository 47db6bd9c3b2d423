"""A query as the core reads it: the requester's row and the text (already embedded), split into
aspects, with how many suggestions are wanted, the rules and the diversity knob."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matcher.score.rules import MatchRules

__all__ = ["PreparedQuery"]


@dataclass(frozen=True)
class PreparedQuery:
    requester: int | None = None
    text: str | None = None
    text_vector: np.ndarray | None = None
    aspects: tuple[str, ...] = ()
    aspect_vectors: np.ndarray | None = None
    k: int = 10
    rules: MatchRules = MatchRules()
    diversity: float = 0.1
