"""The in-memory matching state: ids translated to rows once, work vectors, summaries, lexical index.

A `Corpus` is immutable once built; writes produce a new one (a deletion only flips `active`), so
queries in flight always see one consistent state.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from matcher.embedding import normalise_rows
from matcher.index import CosineIndex
from matcher.lexical import LexicalIndex
from matcher.profiles import Profile

__all__ = ["KEYWORDS_SUFFIX", "Corpus", "build_corpus", "corpus_texts", "normalise_institution"]

KEYWORDS_SUFFIX = "#keywords"  # the id suffix of a profile's keywords pseudo-work


def normalise_institution(name: str) -> str:
    return " ".join(name.lower().replace(",", " ").split())


@dataclass(frozen=True)
class Corpus:
    ids: tuple[str, ...]
    row_of: Mapping[str, int]
    profiles: tuple[Profile, ...]
    countries: np.ndarray  # (P,) '<U2'
    kinds: np.ndarray  # (P,) str: researcher | organisation
    activity: np.ndarray  # (P,) float32 in [0, 1]: log(1 + works) / log(1 + most works of anyone)
    institutions: tuple[str, ...]
    work_vectors: np.ndarray  # (W, d) float32, grouped by owner
    work_owner: np.ndarray  # (W,) int64
    work_offsets: np.ndarray  # (P + 1,) int64: works of row p are offsets[p]:offsets[p+1]
    work_ids: tuple[str, ...]
    work_titles: tuple[str, ...]
    summary: np.ndarray  # (P, d) float32, L2-normalised mean of the profile's work vectors
    index: CosineIndex
    lexical: LexicalIndex
    active: np.ndarray  # (P,) bool: False once a profile is deleted
    generation: int = 0

    def __len__(self) -> int:
        return len(self.ids)

    def works_of(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Work indices of the given profile rows (concatenated) and the segment starts."""
        starts = self.work_offsets[rows]
        counts = self.work_offsets[rows + 1] - starts
        segment_starts = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
        within = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(segment_starts, counts)
        return np.repeat(starts, counts) + within, segment_starts

    def without(self, profile_id: str, *, generation: int) -> Corpus:
        """The same corpus with one profile deactivated, sharing every array but `active`."""
        active = self.active.copy()
        active[self.row_of[profile_id]] = False
        return dataclasses.replace(self, active=active, generation=generation)


def corpus_texts(profiles: Sequence[Profile]) -> tuple[list[str], list[int], list[str], list[str]]:
    """The texts to embed, in corpus order: each profile's works, then its keywords if any."""
    texts: list[str] = []
    owners: list[int] = []
    ids: list[str] = []
    titles: list[str] = []
    for row, profile in enumerate(profiles):
        for work in profile.works:
            texts.append(work.text)
            owners.append(row)
            ids.append(work.id)
            titles.append(work.title)
        if profile.keywords:
            texts.append(profile.keyword_text)
            owners.append(row)
            ids.append(profile.id + KEYWORDS_SUFFIX)
            titles.append(profile.keyword_text)
    return texts, owners, ids, titles


def profile_document(profile: Profile) -> str:
    parts = [profile.keyword_text, *(w.text for w in profile.works)]
    return " ".join(p for p in parts if p)


def build_corpus(profiles: Sequence[Profile], work_vectors: np.ndarray, *, generation: int = 0) -> Corpus:
    """Assemble the matching state from profiles and their work vectors (in `corpus_texts` order)."""
    if not profiles:
        raise ValueError("cannot build a corpus with no profiles")
    texts, owners, work_ids, titles = corpus_texts(profiles)
    if len(work_vectors) != len(texts):
        raise ValueError(f"{len(texts)} texts but {len(work_vectors)} vectors")
    owner = np.asarray(owners, dtype=np.int64)
    counts = np.bincount(owner, minlength=len(profiles))
    offsets = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
    vectors = np.ascontiguousarray(work_vectors, dtype=np.float32)
    summary = normalise_rows(np.add.reduceat(vectors, offsets[:-1], axis=0))  # every profile has >= 1 text
    ids = tuple(p.id for p in profiles)
    return Corpus(
        ids=ids,
        row_of={pid: row for row, pid in enumerate(ids)},
        profiles=tuple(profiles),
        countries=np.asarray([p.country for p in profiles], dtype="<U2"),
        kinds=np.asarray([p.kind for p in profiles]),
        activity=(np.log1p(counts) / np.log1p(counts.max())).astype(np.float32),
        institutions=tuple(normalise_institution(p.institution) for p in profiles),
        work_vectors=vectors,
        work_owner=owner,
        work_offsets=offsets,
        work_ids=tuple(work_ids),
        work_titles=tuple(titles),
        summary=summary,
        index=CosineIndex().fit(summary),
        lexical=LexicalIndex().fit([profile_document(p) for p in profiles]),
        active=np.ones(len(profiles), dtype=bool),
        generation=generation,
    )
