"""The in-memory matching state: ids translated to rows once, work vectors, summaries, lexical index.

A `Corpus` is immutable once built; writes produce a new one (a deletion only flips `active`), so
queries in flight always see one consistent state.

It is compact on purpose: it keeps per row only what matching, rules and explanations read (name,
country, institution, kind, capacity, co-author links as a sparse matrix, work ids and titles) and
the vectors as float16, never the profiles themselves, so abstracts stay in the store. A
`CorpusBuilder` takes profiles one at a time, which lets the engine stream a store of any size
through it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from matcher import half
from matcher.index import CosineIndex
from matcher.lexical import LexicalIndex
from matcher.profiles import Profile
from matcher.segments import segments_of

__all__ = [
    "KEYWORDS_SUFFIX", "Corpus", "CorpusBuilder", "build_corpus", "corpus_texts", "normalise_institution",
    "profile_document",
]

KEYWORDS_SUFFIX = "#keywords"  # the id suffix of a profile's keywords pseudo-work


def normalise_institution(name: str) -> str:
    return " ".join(name.lower().replace(",", " ").split())


@dataclass(frozen=True)
class Corpus:
    ids: tuple[str, ...]
    row_of: Mapping[str, int]
    names: tuple[str, ...]
    institution_names: tuple[str, ...]  # as the profiles give them, for display
    institutions: tuple[str, ...]  # normalised, for same-institution checks
    countries: np.ndarray  # (P,) '<U2'
    kinds: np.ndarray  # (P,) str: researcher | organisation
    capacity: np.ndarray  # (P,) int32: partners a profile takes in a batch, 0 where it gives none
    activity: np.ndarray  # (P,) float32 in [0, 1]: log(1 + works) / log(1 + most works of anyone)
    links: sparse.csr_matrix  # (P, P) int32: [i, j] = works of i that list j as co-author / co-participant
    links_to: sparse.csr_matrix  # links transposed: [j, i] = works of i that list j
    work_vectors: np.ndarray  # (W, d) float16, unit rows, grouped by owner
    work_offsets: np.ndarray  # (P + 1,) int64: works of row p are offsets[p]:offsets[p+1]
    work_ids: tuple[str, ...]
    work_titles: tuple[str, ...]
    summary: np.ndarray  # (P, d) float16, L2-normalised mean of the profile's work vectors
    index: CosineIndex
    lexical: LexicalIndex
    active: np.ndarray  # (P,) bool: False once a profile is deleted
    generation: int = 0

    def __len__(self) -> int:
        return len(self.ids)

    def works_of(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Work indices of the given profile rows (concatenated) and the segment starts."""
        return segments_of(self.work_offsets, rows)

    def work_matrix(self, works: np.ndarray | slice) -> np.ndarray:
        """Work vectors as float32, for the given work indices or a slice."""
        return half.gather(self.work_vectors, works)

    def summaries(self, rows: np.ndarray | int) -> np.ndarray:
        """Summary vectors of the given rows as float32."""
        return half.gather(self.summary, rows)

    def work_sims(self, works: np.ndarray | slice, queries: np.ndarray) -> np.ndarray:
        """Cosine of the given works to each query vector: (works, m) for (m, d) queries, (works,) for (d,)."""
        return half.rows_dot(self.work_vectors, works, queries)

    def summary_sims(self, rows: np.ndarray | int, queries: np.ndarray) -> np.ndarray:
        """Cosine of the given rows' summaries to each query vector, shaped as `work_sims`."""
        return half.rows_dot(self.summary, rows, queries)

    def link_counts(self, row: int, rows: np.ndarray) -> np.ndarray:
        """For each of `rows`: how many of `row`'s works list it; 1 where only its own works list `row`."""
        mine = dict(zip(*_csr_row(self.links, row), strict=True))
        listed_by = set(_csr_row(self.links_to, row)[0].tolist())
        return np.fromiter(
            (mine.get(r, 1 if r in listed_by else 0) for r in np.asarray(rows).tolist()),
            dtype=np.float32, count=len(rows),
        )

    def listed_rows(self, row: int) -> np.ndarray:
        """Rows that `row`'s own works list as co-authors or co-participants."""
        return _csr_row(self.links, row)[0]

    def linked_rows(self, row: int) -> np.ndarray:
        """Rows that worked with `row` before, either side listing the other."""
        return np.union1d(self.listed_rows(row), _csr_row(self.links_to, row)[0])

    def without(self, profile_id: str, *, generation: int) -> Corpus:
        """The same corpus with one profile deactivated, sharing every array but `active`."""
        active = self.active.copy()
        active[self.row_of[profile_id]] = False
        return dataclasses.replace(self, active=active, generation=generation)


def _csr_row(matrix: sparse.csr_matrix, row: int) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = matrix.indptr[row], matrix.indptr[row + 1]
    return matrix.indices[lo:hi], matrix.data[lo:hi]


def corpus_texts(profiles: Iterable[Profile]) -> list[str]:
    """The texts to embed, in corpus order: each profile's works, then its keywords if any."""
    return [text for profile in profiles for text in profile.texts]


def _work_ids(profile: Profile) -> list[str]:
    ids = [w.id for w in profile.works]
    return [*ids, profile.id + KEYWORDS_SUFFIX] if profile.keywords else ids


def _work_titles(profile: Profile) -> list[str]:
    titles = [w.title for w in profile.works]
    return [*titles, profile.keyword_text] if profile.keywords else titles


def profile_document(profile: Profile) -> str:
    parts = [profile.keyword_text, *(w.text for w in profile.works)]
    return " ".join(p for p in parts if p)


class CorpusBuilder:
    """Collects the compact per-row state from profiles added one at a time, in row order."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self._names: list[str] = []
        self._institutions: list[str] = []
        self._countries: list[str] = []
        self._kinds: list[str] = []
        self._capacity: list[int] = []
        self._counts: list[int] = []
        self._work_ids: list[str] = []
        self._work_titles: list[str] = []
        self._links: list[tuple[int, str, int]] = []  # (row, partner id, shared works)

    @property
    def n_texts(self) -> int:
        return len(self._work_ids)

    def add(self, profile: Profile) -> list[str]:
        """Record one profile (the next row) and return its texts to embed, in corpus order."""
        row = len(self.ids)
        self.ids.append(profile.id)
        self._names.append(profile.name)
        self._institutions.append(profile.institution)
        self._countries.append(profile.country)
        self._kinds.append(profile.kind)
        self._capacity.append(profile.capacity or 0)
        texts = profile.texts
        self._counts.append(len(texts))
        self._work_ids.extend(_work_ids(profile))
        self._work_titles.extend(_work_titles(profile))
        shared: dict[str, int] = {}
        for work in profile.works:
            for partner in set(work.coauthors):
                shared[partner] = shared.get(partner, 0) + 1
        self._links.extend((row, partner, n) for partner, n in shared.items())
        return texts

    def documents(self, profiles: Iterable[Profile]) -> Iterator[str]:
        """Add each profile and yield its lexical document: one pass builds both."""
        for profile in profiles:
            self.add(profile)
            yield profile_document(profile)

    def finish(self, work_vectors: np.ndarray, lexical: LexicalIndex, *, generation: int = 0) -> Corpus:
        """The corpus, given the work vectors of every added text (any float dtype, unit rows)."""
        if not self.ids:
            raise ValueError("cannot build a corpus with no profiles")
        if len(work_vectors) != self.n_texts:
            raise ValueError(f"{self.n_texts} texts but {len(work_vectors)} vectors")
        if min(self._counts) == 0:
            raise ValueError(f"profile {self.ids[self._counts.index(0)]} has no works and no keywords")
        counts = np.asarray(self._counts, dtype=np.int64)
        offsets = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        vectors = half.to_half(work_vectors)
        summary = _summaries(vectors, offsets)
        row_of = {pid: row for row, pid in enumerate(self.ids)}
        links = self._link_matrix(row_of)
        return Corpus(
            ids=tuple(self.ids),
            row_of=row_of,
            names=tuple(self._names),
            institution_names=tuple(self._institutions),
            institutions=tuple(normalise_institution(name) for name in self._institutions),
            countries=np.asarray(self._countries, dtype="<U2"),
            kinds=np.asarray(self._kinds),
            capacity=np.asarray(self._capacity, dtype=np.int32),
            activity=(np.log1p(counts) / np.log1p(counts.max())).astype(np.float32),
            links=links,
            links_to=links.T.tocsr(),
            work_vectors=vectors,
            work_offsets=offsets,
            work_ids=tuple(self._work_ids),
            work_titles=tuple(self._work_titles),
            summary=summary,
            index=CosineIndex().fit(summary),
            lexical=lexical,
            active=np.ones(len(self.ids), dtype=bool),
            generation=generation,
        )

    def _link_matrix(self, row_of: Mapping[str, int]) -> sparse.csr_matrix:
        known = [(row, row_of[partner], n) for row, partner, n in self._links if partner in row_of]
        n = len(self.ids)
        if not known:
            return sparse.csr_matrix((n, n), dtype=np.int32)
        rows, cols, data = (np.asarray(column) for column in zip(*known, strict=True))
        return sparse.csr_matrix((data.astype(np.int32), (rows, cols)), shape=(n, n))


def _summaries(vectors: np.ndarray, offsets: np.ndarray, block: int = 4096) -> np.ndarray:
    """Normalised per-profile means of float16 work vectors, summed in float32 `block` profiles at a
    time (no float32 copy of every work vector: that would double the memory float16 storage saves)."""
    out = np.empty((len(offsets) - 1, vectors.shape[1]), dtype=np.float16)
    for lo in range(0, len(offsets) - 1, block):
        hi = min(lo + block, len(offsets) - 1)
        part = vectors[offsets[lo] : offsets[hi]]
        sums = np.add.reduceat(part, offsets[lo:hi] - offsets[lo], axis=0, dtype=np.float32)
        out[lo:hi] = sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
    return out


def build_corpus(profiles: Iterable[Profile], work_vectors: np.ndarray, *, generation: int = 0) -> Corpus:
    """Assemble the matching state from profiles and their work vectors (in `corpus_texts` order)."""
    profiles = list(profiles)
    if not profiles:
        raise ValueError("cannot build a corpus with no profiles")
    builder = CorpusBuilder()
    lexical = LexicalIndex().fit(builder.documents(profiles), n_documents=len(profiles))
    return builder.finish(work_vectors, lexical, generation=generation)
