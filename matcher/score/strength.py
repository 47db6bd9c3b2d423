"""Match strength: a relevance turned into a figure that means the same in every query and pool.

Raw relevance (a cosine) reads differently for a short idea, a long call or a whole profile, and
the ranking score adds priors on top. Strength is the share of *real partners* that were less
close to what they were chosen for: members of EU consortia that formed, against their project's
text (*text*), their coordinator's profile (*profile*) or its summary (*pair*, what batch matching
scores). The tables below are those relevance values at every 5th percentile, from
`matcher eval consortia` on the CORDIS split of docs/EVALUATION.md (its report's `calibration`;
`matcher.evaluation.calibration` says which pairs count). Strength 0.8: closer than 80% of real
partners were.

Labels: `strong` from 0.75 (closer than three in four real partners), `good` from 0.5 (closer than
the median one), `weak` below: less close than most partners who joined for their topic, often a
neighbour on the map rather than an expert in the question.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

__all__ = ["GOOD", "STRONG", "TABLES", "Kind", "blended_strength", "label", "strength"]

Kind = Literal["text", "profile", "pair"]

STRONG = 0.75
GOOD = 0.5

_LEVELS = np.arange(0, 101, 5) / 100.0
# relevance of real partners at the 0th, 5th, ..., 100th percentile (917 text, 398 profile and pair)
TABLES: dict[str, np.ndarray] = {
    "text": np.array([-0.02, 0.19, 0.267, 0.308, 0.352, 0.382, 0.413, 0.442, 0.466, 0.49, 0.506, 0.525, 0.547,
                      0.568, 0.583, 0.602, 0.622, 0.646, 0.668, 0.715, 0.854]),
    "profile": np.array([0.032, 0.189, 0.278, 0.307, 0.334, 0.362, 0.389, 0.421, 0.439, 0.455, 0.467, 0.486, 0.506,
                         0.522, 0.54, 0.558, 0.579, 0.597, 0.627, 0.651, 0.722]),
    "pair": np.array([0.033, 0.206, 0.3, 0.338, 0.375, 0.407, 0.438, 0.481, 0.495, 0.518, 0.545, 0.565, 0.588,
                      0.609, 0.641, 0.664, 0.686, 0.71, 0.742, 0.772, 0.859]),
}


def strength(relevance: np.ndarray | float, kind: Kind) -> np.ndarray:
    """Strength in [0, 1] of each relevance value, by linear interpolation in the kind's table."""
    return np.interp(np.asarray(relevance, dtype=np.float64), TABLES[kind], _LEVELS)


def blended_strength(text: np.ndarray | None, profile: np.ndarray | None, text_share: float) -> np.ndarray:
    """Strength of a query by text, by profile, or both (each part's strength, weighted as the
    relevance parts are)."""
    if text is None and profile is None:
        raise ValueError("a strength needs a text relevance, a profile relevance, or both")
    if profile is None:
        return strength(text, "text")  # type: ignore[arg-type]
    if text is None:
        return strength(profile, "profile")
    return text_share * strength(text, "text") + (1 - text_share) * strength(profile, "profile")


def label(value: float) -> str:
    """`strong`, `good` or `weak` (see the module)."""
    return "strong" if value >= STRONG else "good" if value >= GOOD else "weak"
