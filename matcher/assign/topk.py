"""Exact cross-border top-k for a whole pool, computed blockwise without an n x n matrix.

The pool is reordered by country, so same-country pairs form contiguous rectangles: tiles
wholly inside one country are skipped, the rest are masked with slices. The score matrix is
symmetric, so only tiles on or above the diagonal are multiplied (one sgemm per tile) and each
tile feeds the rows of both its row block and its column block. Selection never sorts a tile:
the maxima of fixed groups of scores (one SIMD reduction) are compared with each row's running
k-th best score and only the few groups that can still matter are read. Tiles are shared by
worker threads, each with single-threaded BLAS and its own running top-k, merged at the end.
Ties are broken by row number, so the result does not depend on how the tiles were shared out:
`matcher.assign.distributed` runs the same plan's tiles on a Dask cluster and gets the same answer.
"""

from __future__ import annotations

import os
import queue
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import nullcontext
from typing import Any

import numpy as np

from matcher.domain.errors import InvalidQuery

__all__ = ["TilePlan", "TileState", "topk_pairs", "score_pairs", "tile_size", "as_pairs", "plan_topk", "tiles_topk"]

Eligible = Callable[[np.ndarray, np.ndarray], np.ndarray] | np.ndarray
Progress = Callable[[int, int], None]

_GROUP = 16  # scores per group in the max pre-filter; tiles are a multiple of it
_MAX_TILE = 2048  # beyond this the tile leaves the cache and selection slows down
_NEG = np.float32(-np.inf)
_FLOOR = np.float32(np.finfo(np.float32).min)  # thresholds never admit -inf


def tile_size(n: int, memory_bytes: int, n_threads: int = 1, *, with_rules: bool = False) -> int:
    """Square tile side (a multiple of the group size) that keeps the scratch within budget."""
    per_cell = (9 if with_rules else 4) * max(n_threads, 1)  # float32 tile (+ copy and masks)
    side = int((max(memory_bytes, 0) / per_cell) ** 0.5) // _GROUP * _GROUP
    needed = -(-n // _GROUP) * _GROUP
    return max(_GROUP, min(side, _MAX_TILE, needed))


def topk_pairs(
    vectors: np.ndarray,
    k: int,
    *,
    countries: np.ndarray,
    eligible: Eligible | None = None,
    exclude_same_country: bool = True,
    blocked_pairs: Any = None,
    memory_bytes: int = 512 * 2**20,
    progress: Progress | None = None,
    n_threads: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k partners of every row by inner product, under the cross-border rules.

    vectors: (n, d) L2-normalised rows (scores are cosines). countries: (n,) country codes.
    eligible: extra rule, either a callable ``(rows, cols) -> bool (len(rows), len(cols))`` on
    original row numbers (True: cols may be suggested to rows), a bool (n,) array of rows that
    may be suggested at all, or a bool (C, C) array of allowed country pairs indexed like
    ``np.unique(countries)``. blocked_pairs: conflicts of interest, symmetric, as (i, j) pairs,
    an (m, 2) array or a sparse matrix. memory_bytes bounds the score tiles (one per thread);
    the results and a country-ordered copy of the vectors come on top. progress(done, total)
    counts tiles and is called from this thread; an ``eligible`` callable may be called from
    worker threads. n_threads defaults to the usable CPUs.
    Returns (indices (n, k) int64, -1 when fewer than k eligible; scores (n, k) float32, -inf
    there), each row sorted by score descending, ties by index.
    """
    threads = max(1, n_threads or len(os.sched_getaffinity(0)))
    plan = plan_topk(vectors, k, countries=countries, eligible=eligible, exclude_same_country=exclude_same_country,
                     blocked_pairs=blocked_pairs, memory_bytes=memory_bytes, n_threads=threads)
    tiles = plan.tiles()
    states = [TileState(plan) for _ in range(min(threads, max(len(tiles), 1)))]
    _run(states, tiles, progress)
    return plan.finish(states)


def plan_topk(
    vectors: np.ndarray,
    k: int,
    *,
    countries: np.ndarray,
    eligible: Eligible | None = None,
    exclude_same_country: bool = True,
    blocked_pairs: Any = None,
    memory_bytes: int = 512 * 2**20,
    n_threads: int | None = None,
) -> TilePlan:
    """The tile plan `topk_pairs` works through with these arguments (same tile size, same tiles)."""
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    codes = np.unique(np.asarray(countries), return_inverse=True)[1].reshape(-1)
    n = _validate(x, k, codes)
    threads = max(1, n_threads or len(os.sched_getaffinity(0)))
    order = np.argsort(codes, kind="stable")
    tile = tile_size(n, memory_bytes, threads, with_rules=eligible is not None)
    return TilePlan(x, codes, order, tile, k, exclude_same_country, blocked_pairs, eligible)


def tiles_topk(
    plan: TilePlan, tiles: list[tuple[int, int]], blocks: list[int]
) -> tuple[list[int], np.ndarray, np.ndarray]:
    """The partial top-k of the rows of `blocks` (row blocks of the plan) over `tiles`, which must
    lie within those blocks, on one thread with single-threaded BLAS: (blocks, indices, scores),
    the rows block after block (as `TileState.absorb` takes them)."""
    state = TileState(plan, blocks)
    with _single_threaded_blas():
        for a, b in tiles:
            state.process(a, b)
    return blocks, state.idx, state.val


def score_pairs(
    indices: np.ndarray, scores: np.ndarray, *, min_score: float | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Deduplicated undirected candidate edges (i < j, weight) from a top-k result."""
    n, k = indices.shape
    rows = np.repeat(np.arange(n, dtype=np.int64), k)
    cols, w = indices.reshape(-1).astype(np.int64), scores.reshape(-1)
    keep = cols >= 0
    if min_score is not None:
        keep &= w >= min_score
    rows, cols, w = rows[keep], cols[keep], w[keep]
    lo, hi = np.minimum(rows, cols), np.maximum(rows, cols)
    _, first = np.unique(lo * n + hi, return_index=True)
    return lo[first], hi[first], w[first].astype(np.float32)


def _validate(x: np.ndarray, k: int, codes: np.ndarray) -> int:
    if x.ndim != 2 or x.shape[0] == 0:
        raise InvalidQuery("vectors must be a non-empty (n, d) array")
    if codes.shape[0] != x.shape[0]:
        raise InvalidQuery(f"{codes.shape[0]} country codes for {x.shape[0]} vectors")
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise InvalidQuery(f"k must be a positive integer, got {k!r}")
    return int(x.shape[0])


class TilePlan:
    """The pool in country order, the tile grid, and the rules as per-tile masks."""

    def __init__(self, x, codes, order, tile, k, exclude_same, blocked, eligible) -> None:
        self.n, self.k, self.tile, self.exclude_same = len(x), k, tile, exclude_same
        self.order = order
        self.nt = -(-self.n // tile)
        self.npad = self.nt * tile
        self.xs = np.zeros((self.npad, x.shape[1]), dtype=np.float32)
        self.xs[: self.n] = x[order]
        self.cs = codes[order]
        ids = np.arange(self.cs.max() + 1)
        self.start = np.searchsorted(self.cs, ids, "left")
        self.end = np.searchsorted(self.cs, ids, "right")
        self.allowed = _allowed_fn(eligible, codes, self.n)
        self.conflict_keys, self.conflict_rows, self.conflict_cols = self._conflicts(blocked)

    def _conflicts(self, blocked: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pairs = as_pairs(blocked)
        pos = np.empty(self.n, dtype=np.int64)
        pos[self.order] = np.arange(self.n)
        if pairs.size and (pairs.min() < 0 or pairs.max() >= self.n):
            raise InvalidQuery("blocked_pairs refers to rows outside the pool")
        a, b = pos[pairs[:, 0]], pos[pairs[:, 1]]
        a, b = np.concatenate([a, b]), np.concatenate([b, a])
        keep = (a != b) & (a // self.tile <= b // self.tile)
        a, b = a[keep], b[keep]
        key = (a // self.tile) * self.nt + b // self.tile
        srt = np.argsort(key, kind="stable")
        return key[srt], a[srt] % self.tile, b[srt] % self.tile

    def _one_country(self, t: int) -> int:
        lo, hi = t * self.tile, min((t + 1) * self.tile, self.n) - 1
        return int(self.cs[lo]) if self.cs[lo] == self.cs[hi] and hi == (t + 1) * self.tile - 1 else -1

    def tiles(self) -> list[tuple[int, int]]:
        """Upper-triangle tiles, minus those wholly inside one country when it is excluded."""
        one = [self._one_country(t) for t in range(self.nt)]
        return [
            (a, b)
            for a in range(self.nt)
            for b in range(a, self.nt)
            if not (self.exclude_same and one[a] >= 0 and one[a] == one[b])
        ]

    def mask(self, s: np.ndarray, a: int, b: int) -> np.ndarray | None:
        """Apply the symmetric rules in place; return the column owners' copy if rules are asymmetric."""
        t, r0, c0 = self.tile, a * self.tile, b * self.tile
        nr, nc = min(t, self.n - r0), min(t, self.n - c0)
        s[nr:, :] = _NEG
        s[:, nc:] = _NEG
        if self.exclude_same:
            for c in range(int(self.cs[r0]), int(self.cs[r0 + nr - 1]) + 1):
                rs, re = max(self.start[c], r0) - r0, min(self.end[c], r0 + nr) - r0
                cs_, ce = max(self.start[c], c0) - c0, min(self.end[c], c0 + nc) - c0
                if rs < re and cs_ < ce:
                    s[rs:re, cs_:ce] = _NEG
        elif a == b:
            np.fill_diagonal(s, _NEG)
        lo, hi = np.searchsorted(self.conflict_keys, [a * self.nt + b, a * self.nt + b + 1])
        s[self.conflict_rows[lo:hi], self.conflict_cols[lo:hi]] = _NEG
        if self.allowed is None:
            return None
        rows, cols = self.order[r0 : r0 + nr], self.order[c0 : c0 + nc]
        other = None
        if a != b:
            other = s.copy()
            np.copyto(other[:nr, :nc], _NEG, where=~self.allowed(cols, rows).T)
        np.copyto(s[:nr, :nc], _NEG, where=~self.allowed(rows, cols))
        return other

    def finish(self, states: list[TileState]) -> tuple[np.ndarray, np.ndarray]:
        """Merge the workers' lists and map rows back to the caller's order."""
        pos = np.concatenate([st.idx for st in states], axis=1)[: self.n]
        val = np.concatenate([st.val for st in states], axis=1)[: self.n]
        idx = np.full((self.n, pos.shape[1]), -1, dtype=np.int64)
        idx[self.order] = np.where(pos >= 0, self.order[np.maximum(pos, 0)], -1)
        val[self.order] = val.copy()
        by_index = np.argsort(np.where(idx < 0, self.n, idx), axis=1, kind="stable")
        idx, val = np.take_along_axis(idx, by_index, 1), np.take_along_axis(val, by_index, 1)
        best = np.argsort(-val, axis=1, kind="stable")[:, : self.k]
        idx, val = np.take_along_axis(idx, best, 1), np.take_along_axis(val, best, 1)
        return idx, np.where(idx >= 0, val, _NEG).astype(np.float32)


class TileState:
    """One worker's scratch tile and running top-k (row numbers in country order) of the rows of
    `blocks` (row blocks of the plan, default all of them), kept block after block."""

    def __init__(self, plan: TilePlan, blocks: list[int] | None = None) -> None:
        self.plan = plan
        held = list(range(plan.nt)) if blocks is None else list(blocks)
        self.slot = np.full(plan.nt, -1, dtype=np.int64)  # where each held block's rows start, in tiles
        self.slot[held] = np.arange(len(held))
        rows = len(held) * plan.tile
        self.buf = np.empty((plan.tile, plan.tile), dtype=np.float32)
        self.val = np.full((rows, plan.k), _NEG, dtype=np.float32)
        self.idx = np.full((rows, plan.k), -1, dtype=np.int64)
        self.thr = np.full(rows, _NEG, dtype=np.float32)

    def absorb(self, blocks: list[int], idx: np.ndarray, val: np.ndarray) -> None:
        """Fold in another state's lists of the rows of `blocks` (as `tiles_topk` returns them)."""
        t = self.plan.tile
        rows = np.concatenate([np.arange(t) + self.slot[b] * t for b in blocks])
        self._keep(rows, np.concatenate([self.val[rows], val], axis=1), np.concatenate([self.idx[rows], idx], axis=1))

    def process(self, a: int, b: int) -> None:
        p, t = self.plan, self.plan.tile
        np.matmul(p.xs[a * t : (a + 1) * t], p.xs[b * t : (b + 1) * t].T, out=self.buf)
        other = p.mask(self.buf, a, b)
        self._update(self.buf, a * t, b * t, by_row=True)
        if a != b:
            self._update(self.buf if other is None else other, b * t, a * t, by_row=False)

    def _update(self, s: np.ndarray, own0: int, other0: int, *, by_row: bool) -> None:
        """Offer the tile's scores to its rows (by_row) or to its columns (not by_row)."""
        t, k, g = self.plan.tile, self.plan.k, _GROUP
        ng = t // g  # an owner's group j holds the scores at j, j + ng, j + 2 ng, ...
        if by_row:
            gmax = s.reshape(t, g, ng).max(axis=1)  # (owner, group)
        else:
            gmax = s.reshape(g, ng, t).max(axis=0)  # (group, owner)
        here = int(self.slot[own0 // t]) * t  # the owners' first row in this state
        thr = self.thr[here : here + t].copy()
        cold = np.flatnonzero(thr == _NEG)
        if cold.size and ng >= k:  # the k-th best group maximum is a safe lower bound
            cut = gmax[cold] if by_row else gmax[:, cold].T
            thr[cold] = np.partition(cut, ng - k, axis=1)[:, ng - k]
        lo = np.maximum(thr, _FLOOR)
        if by_row:
            owner, group = np.nonzero(gmax >= lo[:, None])
            flat = (owner * t + group)[:, None] + ng * np.arange(g)
        else:
            group, owner = np.nonzero(gmax >= lo[None, :])
            flat = (group * t + owner)[:, None] + (ng * t) * np.arange(g)
        if owner.size == 0:
            return
        vals = np.take(s.reshape(-1), flat)
        hit, member = np.nonzero(vals >= lo[owner][:, None])
        other = group[hit] + ng * member
        self._merge(owner[hit] + here, other + other0, vals[hit, member])

    def _merge(self, owner: np.ndarray, other: np.ndarray, val: np.ndarray) -> None:
        """Fold candidate (owner, other, score) triples into the running lists."""
        k = self.plan.k
        srt = np.argsort(owner, kind="stable")
        owner, other, val = owner[srt], other[srt], val[srt]
        rows, start, count = np.unique(owner, return_index=True, return_counts=True)
        slot = k + np.arange(owner.size) - np.repeat(start, count)
        at = np.repeat(np.arange(rows.size), count)
        vals = np.full((rows.size, k + int(count.max())), _NEG, dtype=np.float32)
        idx = np.full(vals.shape, -1, dtype=np.int64)
        vals[:, :k], idx[:, :k] = self.val[rows], self.idx[rows]
        vals[at, slot], idx[at, slot] = val, other
        self._keep(rows, vals, idx)

    def _keep(self, rows: np.ndarray, vals: np.ndarray, idx: np.ndarray) -> None:
        """The k best of each row's candidates (vals, idx: one row each) become its list."""
        k = self.plan.k
        best = np.argpartition(-vals, k - 1, axis=1)[:, :k]
        kept = np.take_along_axis(vals, best, 1)
        kth = kept.min(axis=1, keepdims=True)
        tied = np.flatnonzero((kth[:, 0] > _NEG) & ((vals == kth).sum(1) > (kept == kth).sum(1)))
        if tied.size:  # a score equal to the k-th best was left out: keep the lowest original rows
            pos = idx[tied]
            original = np.where(pos >= 0, self.plan.order[np.maximum(pos, 0)], self.plan.n)
            best[tied] = np.lexsort((original, -vals[tied]), axis=1)[:, :k]
        self.val[rows] = np.take_along_axis(vals, best, 1)
        self.idx[rows] = np.take_along_axis(idx, best, 1)
        self.thr[rows] = self.val[rows].min(axis=1)


def _run(states: list[TileState], tiles: list[tuple[int, int]], progress: Progress | None) -> None:
    """Work through the tiles on len(states) threads; progress and errors reach this thread."""
    free: queue.SimpleQueue[TileState] = queue.SimpleQueue()
    for state in states:
        free.put(state)

    def work(a: int, b: int) -> None:
        state = free.get()  # each worker thread holds one state at a time
        try:
            state.process(a, b)
        finally:
            free.put(state)

    # always single-threaded BLAS: a threaded sgemm sums in another order, and the scores would
    # then depend on how many tiles and threads there are (and differ from a Dask worker's)
    with _single_threaded_blas(), ThreadPoolExecutor(len(states)) as pool:
        futures = [pool.submit(work, a, b) for a, b in tiles]
        try:
            for done, future in enumerate(as_completed(futures), 1):
                future.result()
                if progress:
                    progress(done, len(tiles))
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def _single_threaded_blas() -> Any:
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - BLAS threads then compete with the workers
        return nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _allowed_fn(eligible: Eligible | None, codes: np.ndarray, n: int) -> Any:
    if eligible is None:
        return None
    if callable(eligible):
        return lambda r, c: np.asarray(eligible(r, c), dtype=bool)
    rule = np.asarray(eligible, dtype=bool)
    if rule.shape == (n,):
        return lambda r, c: np.broadcast_to(rule[c][None, :], (len(r), len(c)))
    m = int(codes.max()) + 1
    if rule.shape == (m, m):
        return lambda r, c: rule[codes[r][:, None], codes[c][None, :]]
    raise InvalidQuery(f"eligible must be a callable, a bool ({n},) or ({m}, {m}) array")


def as_pairs(blocked: Any) -> np.ndarray:
    """Conflict pairs as an (m, 2) int64 array, from pairs, an array or a sparse matrix."""
    if blocked is None:
        return np.empty((0, 2), dtype=np.int64)
    if hasattr(blocked, "tocoo"):
        coo = blocked.tocoo()
        return np.stack([coo.row, coo.col], axis=1).astype(np.int64)
    items = blocked if isinstance(blocked, np.ndarray) else list(blocked)
    return np.asarray(items, dtype=np.int64).reshape(-1, 2)
