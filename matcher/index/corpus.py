"""The matching state as queries read it: a base segment and a delta segment, minus tombstones.

A `Corpus` is an immutable view: rows 0..B-1 are the base (a snapshot, memory-mapped), rows B..
the delta (profiles written since). A replaced profile keeps its old row, deactivated, and gets a
new one in the delta; a deleted one is deactivated. Writes make a new view that shares the base,
so a query in flight always sees one consistent state. The fitted parts (`Fitted`: the lexical
model and the activity scale) are shared by every row, so a row in the delta scores exactly as it
would in the base. External ids become rows here, once (`row_of`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from functools import cached_property

import numpy as np

from matcher.domain.profiles import Profile
from matcher.index.half import HalfBlocks
from matcher.index.lexical import LexicalModel, LexicalRows
from matcher.index.offsets import segments_of
from matcher.index.packed import Chained, Strings
from matcher.index.segment import (
    KEYWORDS_SUFFIX,
    N_ROLE_CATEGORIES,
    Segment,
    SegmentBuilder,
    corpus_texts,
    profile_document,
    role_categories,
)
from matcher.index.vectors import VectorIndex, index_for

__all__ = ["KEYWORDS_SUFFIX", "Corpus", "Fitted", "RowMap", "build_corpus", "corpus_texts", "profile_document"]


@dataclass(frozen=True)
class Fitted:
    """What a full build fits and every row written until the next one shares."""

    lexical: LexicalModel
    activity_norm: float  # log(1 + most texts of any profile at the fit): activity = log1p(texts) / this
    fit_rows: int  # profiles the fit saw
    fit_generation: int

    def activity(self, work_counts: np.ndarray) -> np.ndarray:
        return (np.log1p(work_counts) / max(self.activity_norm, 1e-12)).astype(np.float32)


class RowMap(Mapping[str, int]):
    """Profile id -> its current row (the delta's newest row wins); `in` means active."""

    def __init__(self, base: Segment, delta: Segment, active: np.ndarray):
        self._base, self._delta, self._active = base, delta, active
        self._boundary = len(base)

    def get(self, key: str, default: int | None = None) -> int | None:  # type: ignore[override]
        row = self._delta.last_row_of(key)
        if row is not None:
            return self._boundary + row
        row = self._base.last_row_of(key)
        return default if row is None else row

    def __getitem__(self, key: str) -> int:
        row = self.get(key)
        if row is None:
            raise KeyError(key)
        return row

    def __contains__(self, key: object) -> bool:
        row = self.get(key) if isinstance(key, str) else None
        return row is not None and bool(self._active[row])

    def __iter__(self) -> Iterator[str]:
        ids = Chained(self._base.ids, self._delta.ids)
        return (ids[r] for r in np.flatnonzero(self._active).tolist())

    def __len__(self) -> int:
        return int(np.count_nonzero(self._active))


class Corpus:
    """Base + delta segments read as one set of rows (see the module)."""

    def __init__(
        self, base: Segment, delta: Segment, active: np.ndarray, fitted: Fitted, *, index: VectorIndex, generation: int
    ):
        if len(active) != len(base) + len(delta):
            raise ValueError(f"{len(active)} activity flags for {len(base) + len(delta)} rows")
        self.base, self.delta, self.fitted = base, delta, fitted
        self.active = active
        self.generation = generation
        self.index = index
        self.boundary = len(base)
        parts = (base, delta) if len(delta) else (base,)
        self.ids: Strings = Chained(base.ids, delta.ids) if len(delta) else base.ids
        self.names: Strings = Chained(base.names, delta.names) if len(delta) else base.names
        self.institution_names: Strings = (
            Chained(base.institutions, delta.institutions) if len(delta) else base.institutions
        )
        self.work_ids: Strings = Chained(base.work_ids, delta.work_ids) if len(delta) else base.work_ids
        self.work_titles: Strings = Chained(base.work_titles, delta.work_titles) if len(delta) else base.work_titles
        self.countries = _joined(parts, "countries")
        self.kinds = _joined(parts, "kinds")
        self.capacity = _joined(parts, "capacity")
        self.has_keywords = _joined(parts, "has_keywords")
        self.institution_keys = _joined(parts, "institution_keys")
        self.id_hashes = _joined(parts, "id_hashes")
        self.roles = _joined(parts, "roles")
        self.sme = _joined(parts, "sme")
        self.last_years = _joined(parts, "last_years")
        self.lexical_norms = _joined(parts, "lexical_norms")
        self.lexical_lengths = _joined(parts, "lexical_lengths")
        self.work_offsets = np.concatenate(
            [np.asarray(base.work_offsets), np.asarray(delta.work_offsets[1:]) + base.n_works]
        ) if len(delta) else np.asarray(base.work_offsets)
        self.activity = fitted.activity(np.diff(self.work_offsets))
        self.work_vectors = HalfBlocks([p.work_vectors for p in parts])
        self.summary = HalfBlocks([p.summary for p in parts])
        self.lexical = LexicalRows(fitted.lexical, [p.lexical for p in parts])
        self.row_of = RowMap(base, delta, active)

    def __len__(self) -> int:
        return len(self.active)

    @property
    def n_active(self) -> int:
        return int(np.count_nonzero(self.active))

    # -- works and vectors ----------------------------------------------------------------------

    def works_of(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Work indices of the given profile rows (concatenated) and the segment starts."""
        return segments_of(self.work_offsets, rows)

    def work_range(self, row: int) -> tuple[int, int]:
        """Work indices lo:hi of one row."""
        return int(self.work_offsets[row]), int(self.work_offsets[row + 1])

    def work_count(self, row: int) -> int:
        lo, hi = self.work_range(row)
        return hi - lo

    def active_work_total(self) -> int:
        """Number of works held by the live (not deleted) profiles."""
        return int(np.diff(self.work_offsets)[self.active].sum())

    def work_matrix(self, works: np.ndarray | slice) -> np.ndarray:
        """Work vectors as float32, for the given work indices or a slice."""
        return self.work_vectors.gather(works)

    def summaries(self, rows: np.ndarray | int) -> np.ndarray:
        """Summary vectors of the given rows as float32."""
        return self.summary.gather(rows)

    def work_sims(self, works: np.ndarray | slice, queries: np.ndarray) -> np.ndarray:
        """Cosine of the given works to each query vector: (works, m) for (m, d) queries, (works,) for (d,)."""
        return self.work_vectors.rows_dot(works, queries)

    def summary_sims(self, rows: np.ndarray | int, queries: np.ndarray) -> np.ndarray:
        """Cosine of the given rows' summaries to each query vector, shaped as `work_sims`."""
        return self.summary.rows_dot(rows, queries)

    def search(self, vector: np.ndarray, n: int, allowed: np.ndarray) -> np.ndarray:
        """The `n` allowed rows nearest to `vector` by summary cosine, best first."""
        rows, _ = self.index.search(vector[None, :], n, allowed)
        return rows[0]

    # -- links ----------------------------------------------------------------------------------

    def _rows_of_hashes(self, hashes: np.ndarray) -> np.ndarray:
        """The current active row of each id hash, -1 where none (the delta's newest row wins)."""
        out = self.base.last_rows_with_hashes(hashes)
        if len(self.delta):
            newer = self.delta.last_rows_with_hashes(hashes)
            out = np.where(newer >= 0, newer + self.boundary, out)
        found = out >= 0
        out[found & ~self.active[np.maximum(out, 0)]] = -1
        return out

    def _listed(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        """(rows, counts): the active rows `row`'s works list, and how many of its works list each."""
        part, local = (self.base, row) if row < self.boundary else (self.delta, row - self.boundary)
        hashes, counts = part.links.row(local)
        rows = self._rows_of_hashes(hashes)
        keep = rows >= 0
        return rows[keep], np.asarray(counts)[keep]

    def listed_rows(self, row: int) -> np.ndarray:
        """Rows that `row`'s own works list as co-authors or co-participants."""
        return np.unique(self._listed(row)[0])

    def listing_rows(self, row: int) -> np.ndarray:
        """Active rows whose works list `row`'s id."""
        target = int(self.id_hashes[row])
        found = [self.base.links.listing(target), self.delta.links.listing(target) + self.boundary]
        rows = np.unique(np.concatenate(found))
        return rows[self.active[rows]]

    def linked_rows(self, row: int) -> np.ndarray:
        """Rows that worked with `row` before, either side listing the other."""
        return np.union1d(self.listed_rows(row), self.listing_rows(row))

    def link_counts(self, row: int, rows: np.ndarray) -> np.ndarray:
        """For each of `rows`: how many of `row`'s works list it; 1 where only its own works list `row`."""
        listed, counts = self._listed(row)
        mine = dict(zip(listed.tolist(), counts.tolist(), strict=True))
        listed_by = set(self.listing_rows(row).tolist())
        return np.fromiter(
            (mine.get(r, 1 if r in listed_by else 0) for r in np.asarray(rows).tolist()),
            dtype=np.float32, count=len(rows),
        )

    # -- non-text signals ------------------------------------------------------------------------

    @cached_property
    def role_categories(self) -> np.ndarray:
        """Each row's role and SME flag as one category (`matcher.index.segment.role_categories`)."""
        return role_categories(self.roles, self.sme)

    @cached_property
    def role_links(self) -> tuple[np.ndarray, np.ndarray]:
        """(links between role categories, rows per category): the base segment's links, rows erased
        since the last merge included (profiles written or erased since do not move these pool-wide
        shares measurably, and the next merge counts them), and the active rows."""
        counts = np.bincount(self.role_categories[self.active], minlength=N_ROLE_CATEGORIES)
        return self.base.role_links, counts

    @cached_property
    def average_length(self) -> float:
        """The mean lexical document length over the active rows (BM25's average document length)."""
        lengths = self.lexical_lengths[self.active]
        return float(lengths.mean()) if len(lengths) else 0.0

    @cached_property
    def newest_year(self) -> int:
        """The year of the most recent dated work among the active rows, at most this year (a work
        dated in the future, or mistyped as 2100, counts as now); 0 when none is dated."""
        newest = int(self.last_years[self.active].max(initial=0))
        return min(newest, date.today().year) if newest else 0

    def same_institution(self, row: int, rows: np.ndarray) -> np.ndarray:
        """True where a row is at `row`'s institution (never for a row without one)."""
        key = self.institution_keys[row]
        return (self.institution_keys[np.asarray(rows, dtype=np.int64)] == key) & (key != 0)

    # -- writes ---------------------------------------------------------------------------------

    def at_generation(self, generation: int) -> Corpus:
        """The same view, reflecting the store up to `generation`."""
        return Corpus(self.base, self.delta, self.active, self.fitted, index=self.index, generation=generation)

    def without(self, profile_id: str, *, generation: int) -> Corpus:
        """The same view with one profile deactivated, sharing every array but `active`."""
        active = self.active.copy()
        row = self.row_of.get(profile_id)
        if row is not None:
            active[row] = False
        return Corpus(self.base, self.delta, active, self.fitted, index=self.index, generation=generation)


def _joined(parts: tuple[Segment, ...], name: str) -> np.ndarray:
    arrays = [np.asarray(getattr(p, name)) for p in parts]
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)


def build_corpus(
    profiles: Iterable[Profile],
    work_vectors: np.ndarray,
    *,
    generation: int = 0,
    fitted: Fitted | None = None,
    index: str = "exact",
    index_url: str | None = None,
) -> Corpus:
    """A matching state in memory, from profiles and their work vectors (in `corpus_texts` order):
    with freshly fitted parts, or with the given ones (a fresh build under the same fit)."""
    profiles = list(profiles)
    if not profiles:
        raise ValueError("cannot build a corpus with no profiles")
    builder = SegmentBuilder()
    for profile in profiles:
        builder.add(profile)
    documents = [profile_document(p) for p in profiles]
    if fitted is None:
        lexical, rows = LexicalModel.fit(documents, n_documents=len(profiles))
        counts = np.asarray([len(p.texts) for p in profiles])
        fitted = Fitted(lexical, float(np.log1p(counts.max())), len(profiles), generation)
    else:
        rows = fitted.lexical.weigh(documents)
    base = builder.finish(work_vectors, rows)
    empty = Segment.empty(base.dim, len(fitted.lexical))
    active = np.ones(len(base), dtype=bool)
    index_ = index_for(index, index_url).fit(base.summary, groups=base.countries)
    return Corpus(base, empty, active, fitted, index=index_, generation=generation)
