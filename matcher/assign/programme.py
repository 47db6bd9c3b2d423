"""Batch matching of a whole applicant pool over the corpus: top-k, global pairs, or two sides.

Translates ids, countries and rules into the arrays of `matcher.assign.topk` and `matcher.assign.pairing`
and their results back into rows with ids and reasons.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

import numpy as np

from matcher.assign.distributed import dask_topk_pairs
from matcher.assign.exposure import CANDIDATES_FACTOR, FairTopk, exposure_cap, fair_topk
from matcher.assign.pairing import Unmatched, bipartite_assignment, greedy_b_matching, unmatched_reasons
from matcher.assign.rows import PairRow, Person, named, pair_reason, pair_rows_from_edges, pair_rows_from_topk
from matcher.assign.topk import score_pairs, topk_pairs
from matcher.domain.countries import expand_countries
from matcher.domain.errors import InvalidQuery
from matcher.index.corpus import Corpus
from matcher.score.rules import conflict_pairs
from matcher.score.strength import strength

__all__ = ["MODES", "BatchRequest", "BatchResult", "build_request", "parse_memory", "run_batch"]

MODES = ("topk", "pairs", "bipartite")
MAX_K = 100
DEFAULT_MEMORY = 512 * 2**20
DEFAULT_CAPACITY = 3


def parse_memory(text: str) -> int:
    """'512M', '2G', '300000000' -> bytes."""
    units = {"K": 2**10, "M": 2**20, "G": 2**30}
    value = text.strip().upper().removesuffix("B").removesuffix("I")
    try:
        if value and value[-1] in units:
            return int(float(value[:-1]) * units[value[-1]])
        return int(value)
    except ValueError:
        raise InvalidQuery(f"memory '{text}' must look like 512M or 2G") from None


@dataclass(frozen=True)
class BatchRequest:
    """A batch as the programme office asks it; country sets already expanded to codes."""

    mode: str = "topk"
    k: int = 5
    capacity: int | None = None  # partners per applicant for everyone; None: each profile's own, else 3
    pool: tuple[str, ...] = ()  # ids; empty: the whole store
    pool_countries: frozenset[str] | None = None
    exclude_countries: frozenset[str] = frozenset()
    cross_border: bool = True
    exclude_conflicts: bool = True
    sides: tuple[frozenset[str], frozenset[str]] | None = None
    side_names: tuple[str, str] = ("A", "B")
    memory_bytes: int = DEFAULT_MEMORY
    min_score: float | None = None  # pairs/bipartite: only partners of at least this strength (0-1)
    fair: FairTopk | None = None  # topk: cap how often one person is suggested (matcher.assign.exposure)


@dataclass(frozen=True)
class BatchResult:
    mode: str
    applicants: tuple[str, ...]
    pairs: tuple[PairRow, ...]
    unmatched: tuple[tuple[str, int, int, str], ...]  # (id, wanted, matched, reason)
    countries: dict[str, str] = field(default_factory=dict)
    capacity_use: dict[str, tuple[int, int]] = field(default_factory=dict)
    people: dict[str, Person] = field(default_factory=dict)
    run: dict[str, Any] = field(default_factory=dict)  # what was asked and when (see `run_details`)

    def summary(self) -> str:
        """One line; pairs and bipartite count partnerships (each is two rows, one per side)."""
        if self.mode == "topk":
            found = f"{len({(p.applicant_id, p.partner_id) for p in self.pairs})} suggestions"
        else:
            found = f"{len({frozenset((p.applicant_id, p.partner_id)) for p in self.pairs})} partnerships"
        return (f"{self.mode}: {len(self.applicants)} applicants, {found}, "
                f"{len(self.unmatched)} applicants short of what was asked")


def run_details(request: BatchRequest, pool_size: int) -> dict[str, Any]:
    """The run as a report states it: mode, options, pool size and the time it ran (UTC)."""
    details: dict[str, Any] = {
        "mode": request.mode, "pool_size": pool_size,
        "date": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "cross_border": request.cross_border, "exclude_conflicts": request.exclude_conflicts,
    }
    if request.mode == "topk":
        details["k"] = request.k
        if request.fair is not None:
            details["fair"] = {"cap": request.fair.cap or exposure_cap(pool_size, pool_size, request.k),
                               "prefer_countries": list(request.fair.prefer_names),
                               "prefer_weight": request.fair.prefer_weight}
    else:
        details["capacity"] = request.capacity or "each profile's own (else 3)"
        details["min_score"] = request.min_score
    if request.sides is not None:
        details["sides"] = list(request.side_names)
        details["side_countries"] = [sorted(request.sides[0]), sorted(request.sides[1])]
    if request.pool_countries is not None:
        details["pool_countries"] = sorted(request.pool_countries)
    if request.exclude_countries:
        details["exclude_countries"] = sorted(request.exclude_countries)
    return details


def build_request(
    mode: str, *, k: int = 5, capacity: int | None = None, pool: tuple[str, ...] = (),
    pool_countries: tuple[str, ...] = (), exclude_countries: tuple[str, ...] = (), sides: tuple[str, ...] = (),
    cross_border: bool = True, exclude_conflicts: bool = True, memory_bytes: int = DEFAULT_MEMORY,
    min_score: float | None = None, fair: bool = False, exposure_cap: int | None = None,
    prefer_countries: tuple[str, ...] = (), prefer_weight: float = 0.05,
) -> BatchRequest:
    """A `BatchRequest` from what a user types: country names and groups are expanded here."""
    if sides and len(sides) != 2:
        raise InvalidQuery(f"give exactly two sides (e.g. --sides TR --sides DE), got {len(sides)}")
    if mode == "bipartite" and not sides:
        raise InvalidQuery("bipartite mode needs two sides (e.g. --sides TR --sides DE,FR)")
    if min_score is not None and (mode == "topk" or not 0 <= min_score <= 1):
        raise InvalidQuery("min_score is a strength between 0 and 1, for the pairs and bipartite modes")
    fair = fair or exposure_cap is not None or bool(prefer_countries)
    if fair and mode != "topk":
        raise InvalidQuery("the fairness option (exposure cap, preferred countries) applies to the topk mode")
    if exposure_cap is not None and exposure_cap < 1:
        raise InvalidQuery("the exposure cap is at least 1 suggestion per person")
    if not 0 <= prefer_weight <= 1:
        raise InvalidQuery("prefer_weight is a score bonus between 0 and 1")
    preferred = expand_countries(prefer_countries) if prefer_countries else frozenset()
    if prefer_countries and not preferred:
        raise InvalidQuery("prefer_countries names no country (give countries or a group such as widening)")
    return BatchRequest(
        mode=mode, k=k, capacity=capacity, pool=pool,
        pool_countries=expand_countries(pool_countries) if pool_countries else None,
        exclude_countries=expand_countries(exclude_countries), cross_border=cross_border,
        exclude_conflicts=exclude_conflicts,
        sides=_sides(sides) if sides else None,
        side_names=(sides[0], sides[1]) if sides else ("A", "B"), memory_bytes=memory_bytes, min_score=min_score,
        fair=FairTopk(cap=exposure_cap, prefer_countries=preferred, prefer_weight=prefer_weight,
                      prefer_names=tuple(prefer_countries)) if fair else None,
    )


def _sides(sides: tuple[str, ...]) -> tuple[frozenset[str], frozenset[str]]:
    """Two disjoint, non-empty country sets: every partnership joins one of each."""
    left, right = expand_countries([sides[0]]), expand_countries([sides[1]])
    if not left or not right:
        raise InvalidQuery(f"side {1 if not left else 2} names no country (give a country list or group)")
    if shared := left & right:
        raise InvalidQuery(f"the two sides overlap in {', '.join(sorted(shared))}: a country may be on one side only")
    return left, right


def _pool_rows(corpus: Corpus, request: BatchRequest) -> np.ndarray:
    mask = corpus.active.copy()
    if request.pool:
        missing = [i for i in request.pool if i not in corpus.row_of]
        if missing:
            raise InvalidQuery(f"{len(missing)} pool id(s) are not in the store: {', '.join(missing[:5])}")
        chosen = np.zeros(len(corpus), dtype=bool)
        chosen[[corpus.row_of[i] for i in request.pool]] = True
        mask &= chosen
    if request.pool_countries is not None:
        mask &= np.isin(corpus.countries, list(request.pool_countries))
    if request.exclude_countries:
        mask &= ~np.isin(corpus.countries, list(request.exclude_countries))
    if request.sides is not None:  # two-sided: only applicants on one of the sides take part
        mask &= np.isin(corpus.countries, list(request.sides[0] | request.sides[1]))
    rows = np.flatnonzero(mask)
    if len(rows) < 2:
        raise InvalidQuery(f"the pool has {len(rows)} applicant(s); a batch needs at least 2")
    return rows


def run_batch(
    corpus: Corpus, request: BatchRequest, progress: Callable[[int, int], None] | None = None, *, client: Any = None
) -> BatchResult:
    """The batch over the corpus; with a `distributed.Client`, the top-k runs on its cluster (same result)."""
    if request.mode not in MODES:
        raise InvalidQuery(f"mode must be one of {', '.join(MODES)}, got '{request.mode}'")
    if not 1 <= request.k <= MAX_K or (request.capacity is not None and request.capacity < 1):
        raise InvalidQuery(f"k must be between 1 and {MAX_K} and capacity at least 1")
    rows = _pool_rows(corpus, request)
    ids = [corpus.ids[r] for r in rows]
    countries = corpus.countries[rows]
    vectors = corpus.summaries(rows)
    blocked = np.asarray(sorted(conflict_pairs(corpus, rows)), dtype=np.int64).reshape(-1, 2) \
        if request.exclude_conflicts else None
    capacity = np.asarray(
        [request.capacity or int(corpus.capacity[r]) or DEFAULT_CAPACITY for r in rows], dtype=np.int64
    )
    common = dict(countries=countries, exclude_same_country=request.cross_border, blocked_pairs=blocked,
                  memory_bytes=request.memory_bytes, progress=progress)
    topk: Any = topk_pairs if client is None else partial(dask_topk_pairs, client)
    if request.mode == "topk":
        k = min(request.k, len(rows) - 1)
        if request.fair is None:
            indices, scores = topk(vectors, k, **common)
        else:
            indices, scores = _fair_topk(vectors, k, countries, request.fair, common, topk)
        pairs = pair_rows_from_topk(ids, indices, scores, "")
        owner = np.repeat(np.arange(len(rows)), indices.shape[1])
        flat = indices.reshape(-1)
        keep = flat >= 0
        short = unmatched_reasons(np.full(len(rows), request.k), owner[keep], flat[keep], np.ones(keep.sum(), bool),
                                  capacity, countries, exclude_same_country=request.cross_border,
                                  blocked_pairs=blocked, directed=True)
        used = {i: (int((indices[n] >= 0).sum()), request.k) for n, i in enumerate(ids)}
    elif request.mode == "pairs":
        pairs, short, used = _pairs(ids, vectors, capacity, common, request, topk)
    else:
        pairs, short, used = _bipartite(ids, vectors, capacity, countries, common, request, topk)
    people = {
        i: Person(str(corpus.names[r]), str(c), str(corpus.institution_names[r]))
        for i, r, c in zip(ids, rows.tolist(), countries, strict=True)
    }
    row_of = dict(zip(ids, rows.tolist(), strict=True))
    reasons: dict[tuple[str, str], str] = {}
    for p in pairs:  # once per pair: the other direction of a partnership names the same works, swapped
        if (p.applicant_id, p.partner_id) not in reasons:
            terms, works = _evidence(corpus, row_of[p.applicant_id], row_of[p.partner_id])
            reasons[p.applicant_id, p.partner_id] = pair_reason(terms, works, p.strength_label)
            swapped = None if works is None else (works[1], works[0])
            reasons[p.partner_id, p.applicant_id] = pair_reason(terms, swapped, p.strength_label)
    return BatchResult(
        mode=request.mode,
        applicants=tuple(ids),
        pairs=tuple(named(pairs, people, reasons)),
        unmatched=tuple((ids[u.row], u.wanted, u.matched, u.reason) for u in short),
        countries={i: str(c) for i, c in zip(ids, countries, strict=True)},
        capacity_use=used,
        people=people,
        run=run_details(request, len(ids)),
    )


def _fair_topk(
    vectors: np.ndarray, k: int, countries: np.ndarray, fair: FairTopk, common: dict[str, Any],
    topk: Callable[..., tuple[np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k under an exposure cap: wider candidate lists (from `topk`, local or on Dask), then the
    capped allocation."""
    n = len(vectors)
    candidates, scores = topk(vectors, min(n - 1, CANDIDATES_FACTOR * k), **common)
    cap = fair.cap or exposure_cap(n, n, k)
    bonus = None
    if fair.prefer_countries:
        bonus = np.where(np.isin(countries, list(fair.prefer_countries)), fair.prefer_weight, 0.0)
    return fair_topk(candidates, scores, k, cap=cap, bonus=bonus)


def _real_works(corpus: Corpus, row: int) -> tuple[int, int]:
    """The row's works lo:hi without its keywords pseudo-work (last) when it has real works."""
    lo, hi = corpus.work_range(row)
    return lo, hi - 1 if corpus.has_keywords[row] and hi - lo > 1 else hi


def _evidence(corpus: Corpus, a: int, b: int) -> tuple[list[str], tuple[str, str] | None]:
    """What the pair of rows `a`, `b` rests on: their heaviest shared terms and their closest two
    works (a's, b's)."""
    cols_a, w_a = corpus.lexical.row(a)
    cols_b, w_b = corpus.lexical.row(b)
    common, ia, ib = np.intersect1d(cols_a, cols_b, assume_unique=True, return_indices=True)
    order = np.argsort(-(np.asarray(w_a)[ia] * np.asarray(w_b)[ib]), kind="stable")[:3]
    terms = [corpus.lexical.model.terms[int(common[i])] for i in order]
    (lo_a, hi_a), (lo_b, hi_b) = _real_works(corpus, a), _real_works(corpus, b)
    if hi_a <= lo_a or hi_b <= lo_b:
        return terms, None
    sims = corpus.work_sims(slice(lo_a, hi_a), corpus.work_matrix(slice(lo_b, hi_b)))
    i, j = np.unravel_index(int(np.argmax(sims)), sims.shape)
    return terms, (str(corpus.work_titles[lo_a + int(i)]), str(corpus.work_titles[lo_b + int(j)]))


def _strong_enough(
    ei: np.ndarray, ej: np.ndarray, w: np.ndarray, min_score: float | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """The candidate edges whose strength reaches `min_score`, and the (i, j) of those left out."""
    if min_score is None:
        return ei, ej, w, (ei[:0], ej[:0])
    keep = strength(w, "pair") >= min_score
    return ei[keep], ej[keep], w[keep], (ei[~keep], ej[~keep])


def _pairs(ids, vectors, capacity, common, request, topk):  # type: ignore[no-untyped-def]
    k = min(len(ids) - 1, max(10, 3 * int(capacity.max())))
    indices, scores = topk(vectors, k, **common)
    ei, ej, w = score_pairs(indices, scores)
    ei, ej, w, weak = _strong_enough(ei, ej, w, request.min_score)
    selected = greedy_b_matching(len(ids), ei, ej, w, capacity)
    rows = pair_rows_from_edges(ids, ei, ej, w, selected, "")
    short: list[Unmatched] = unmatched_reasons(capacity, ei, ej, selected, capacity, common["countries"],
                                               exclude_same_country=request.cross_border,
                                               blocked_pairs=common["blocked_pairs"], weak=weak,
                                               min_score=request.min_score)
    degree = np.bincount(np.r_[ei[selected], ej[selected]], minlength=len(ids))
    return rows, short, {i: (int(degree[n]), int(capacity[n])) for n, i in enumerate(ids)}


def _bipartite(ids, vectors, capacity, countries, common, request, topk):  # type: ignore[no-untyped-def]
    if request.sides is None:
        raise InvalidQuery("bipartite mode needs two sides (e.g. --sides TR --sides DE)")
    left_mask = np.isin(countries, list(request.sides[0]))
    right_mask = np.isin(countries, list(request.sides[1]))
    if (left_mask & right_mask).any():
        raise InvalidQuery("the two sides overlap: a country may be on one side only")
    if not left_mask.any() or not right_mask.any():
        raise InvalidQuery(f"side {request.side_names[0] if not left_mask.any() else request.side_names[1]} "
                           "has no applicant in the pool")
    side = left_mask.astype(np.int8)  # every pool row is on exactly one side
    k = min(len(ids) - 1, max(20, 4 * int(capacity.max())))
    common = {**common, "eligible": lambda r, c: side[r][:, None] != side[c][None, :]}
    indices, scores = topk(vectors, k, **common)
    ei, ej, w = score_pairs(indices, scores)
    ei, ej, w, weak = _strong_enough(ei, ej, w, request.min_score)
    left_of = np.where(side[ei] == 1, ei, ej)
    right_of = np.where(side[ei] == 1, ej, ei)
    lrows, rrows = np.flatnonzero(left_mask), np.flatnonzero(right_mask)
    lpos = np.full(len(ids), -1)
    lpos[lrows] = np.arange(len(lrows))
    rpos = np.full(len(ids), -1)
    rpos[rrows] = np.arange(len(rrows))
    selected = bipartite_assignment(len(lrows), len(rrows), lpos[left_of], rpos[right_of], w,
                                    capacity[lrows], capacity[rrows])
    rows = pair_rows_from_edges(ids, ei, ej, w, selected, "")
    short = unmatched_reasons(capacity, ei, ej, selected, capacity, countries,
                              exclude_same_country=request.cross_border, blocked_pairs=common["blocked_pairs"],
                              weak=weak, min_score=request.min_score)
    degree = np.bincount(np.r_[ei[selected], ej[selected]], minlength=len(ids))
    return rows, short, {i: (int(degree[n]), int(capacity[n])) for n, i in enumerate(ids)}
