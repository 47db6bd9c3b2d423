"""Rows stored as consecutive segments of one flat array (a profile's works, a CSR row's terms)."""

from __future__ import annotations

import numpy as np

__all__ = ["segments_of"]


def segments_of(offsets: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flat positions of the segments of `rows` (row r spans offsets[r]:offsets[r+1]), concatenated
    in the order of `rows`, and where each one starts in that concatenation."""
    rows = np.asarray(rows)
    starts = offsets[rows]
    counts = offsets[rows + 1] - starts
    segment_starts = (np.cumsum(counts) - counts).astype(np.int64)
    within = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(segment_starts, counts)
    return np.repeat(starts, counts) + within, segment_starts
