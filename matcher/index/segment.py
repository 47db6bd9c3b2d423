"""A segment: an immutable block of rows of the matching state, in columns.

The matching state is a large base segment (saved as a snapshot, memory-mapped at load) and a
small delta segment of the profiles written since, read together by `matcher.index.corpus.Corpus`.
A segment keeps per row only what matching, rules and explanations read (name, country,
institution, kind, capacity, work ids and titles, work vectors and their mean, the lexical row,
the ids its works list as co-authors), never the profiles themselves: abstracts stay in the store.

Ids are compared through 64-bit hashes (`id_hash`), so co-author links are resolved against
whichever segment holds the partner today: a profile added later is linked to the older profiles
that list it, exactly as in a fresh build.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from functools import cached_property
from pathlib import Path

import numpy as np

from matcher.domain.profiles import ROLES, Profile
from matcher.index import half
from matcher.index.lexical import CsrBlock, Weighed
from matcher.index.offsets import segments_of
from matcher.index.packed import PackedStrings

__all__ = [
    "KEYWORDS_SUFFIX", "Links", "N_ROLE_CATEGORIES", "ROLE_CODES", "SME_NO", "SME_NOT_SAID", "SME_YES", "Segment",
    "SegmentBuilder", "corpus_texts",
    "id_hash", "id_hashes", "institution_key", "normalise_institution", "profile_document", "role_categories",
]

KEYWORDS_SUFFIX = "#keywords"  # the id suffix of a profile's keywords pseudo-work
ROLE_CODES = {role: code for code, role in enumerate(ROLES, start=1)}  # 0: the profile gives no role
N_ROLE_CATEGORIES = 2 * (len(ROLES) + 1)


SME_NOT_SAID, SME_NO, SME_YES = 0, 1, 2  # the `sme` column's codes


def role_categories(roles: np.ndarray, sme: np.ndarray) -> np.ndarray:
    """A row's role and SME flag as one category: 2 * role code + 1 for an SME (0 and 1: no role)."""
    return 2 * np.asarray(roles, dtype=np.int64) + (np.asarray(sme) == SME_YES)
Writer = Callable[[Path, np.ndarray], None]


def id_hash(text: str) -> int:
    """A stable 64-bit hash of an id (the same in every process and on every machine)."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


def id_hashes(texts: Iterable[str]) -> np.ndarray:
    return np.fromiter((id_hash(t) for t in texts), dtype=np.uint64)


def normalise_institution(name: str) -> str:
    return " ".join(name.lower().replace(",", " ").split())


def institution_key(name: str) -> int:
    """A hash of the normalised institution name, 0 for none: equal keys are one institution."""
    normal = normalise_institution(name)
    return id_hash(normal) | 1 if normal else 0


def corpus_texts(profiles: Iterable[Profile]) -> list[str]:
    """The texts to embed, in row order: each profile's works, then its keywords if any."""
    return [text for profile in profiles for text in profile.texts]


def profile_document(profile: Profile) -> str:
    """A profile's lexical document: its keywords and every work's text."""
    parts = [profile.keyword_text, *(w.text for w in profile.works)]
    return " ".join(p for p in parts if p)


@dataclass(frozen=True, eq=False)
class Links:
    """Per row, the ids (as hashes) its works list as co-authors or co-participants, and how many
    of its works list each, in CSR form."""

    indptr: np.ndarray  # (n + 1,) int64
    hashes: np.ndarray  # (nnz,) uint64
    counts: np.ndarray  # (nnz,) int32

    def row(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = int(self.indptr[row]), int(self.indptr[row + 1])
        return self.hashes[lo:hi], self.counts[lo:hi]

    @cached_property
    def _by_hash(self) -> tuple[np.ndarray, np.ndarray]:
        """(sorted listed hashes, the row listing each): who lists a given id."""
        owners = np.repeat(np.arange(len(self.indptr) - 1, dtype=np.int64), np.diff(np.asarray(self.indptr)))
        order = np.argsort(self.hashes, kind="stable")
        return np.asarray(self.hashes)[order], owners[order]

    def listing(self, target: int) -> np.ndarray:
        """Rows whose works list the id with hash `target`."""
        keys, owners = self._by_hash
        key = np.uint64(target)
        return owners[np.searchsorted(keys, key, "left") : np.searchsorted(keys, key, "right")]

    def take(self, rows: np.ndarray) -> Links:
        positions, _ = segments_of(self.indptr, rows)
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(np.asarray(self.indptr)[rows + 1] - np.asarray(self.indptr)[rows], out=indptr[1:])
        return Links(indptr, np.asarray(self.hashes)[positions], np.asarray(self.counts)[positions])

    @staticmethod
    def concat(parts: Sequence[Links]) -> Links:
        indptrs, total = [np.zeros(1, dtype=np.int64)], 0
        for part in parts:
            indptrs.append(np.asarray(part.indptr[1:]) + total)
            total += int(part.indptr[-1])
        return Links(
            np.concatenate(indptrs),
            np.concatenate([np.asarray(p.hashes) for p in parts]).astype(np.uint64),
            np.concatenate([np.asarray(p.counts) for p in parts]).astype(np.int32),
        )


@dataclass(frozen=True, eq=False)
class Segment:
    ids: PackedStrings
    names: PackedStrings
    institutions: PackedStrings  # as the profiles give them, for display
    work_ids: PackedStrings
    work_titles: PackedStrings
    countries: np.ndarray  # (n,) '<U2'
    kinds: np.ndarray  # (n,) '<U12': researcher | organisation
    capacity: np.ndarray  # (n,) int32: partners a profile takes in a batch, 0 where it gives none
    has_keywords: np.ndarray  # (n,) bool: the row's last work is its keywords (a pseudo-work)
    institution_keys: np.ndarray  # (n,) uint64, see `institution_key`
    id_hashes: np.ndarray  # (n,) uint64
    roles: np.ndarray  # (n,) uint8: ROLE_CODES of the profile's role, 0 for none given
    sme: np.ndarray  # (n,) int8: SME_YES, SME_NO, or SME_NOT_SAID (the profile does not say)
    last_years: np.ndarray  # (n,) int16: year of the most recent dated work, 0 for none
    work_offsets: np.ndarray  # (n + 1,) int64: works of row p are offsets[p]:offsets[p+1]
    work_vectors: np.ndarray  # (W, d) float16, unit rows, grouped by owner
    summary: np.ndarray  # (n, d) float16, L2-normalised mean of the row's work vectors
    lexical: CsrBlock  # (n, terms) TF-IDF rows of the fitted lexical model
    lexical_norms: np.ndarray  # (n,) float32: each lexical row's norm before normalising (see `Weighed`)
    lexical_lengths: np.ndarray  # (n,) float32: vocabulary terms in each row's document, repeats counted
    links: Links

    def __len__(self) -> int:
        return len(self.countries)

    @property
    def dim(self) -> int:
        return int(self.work_vectors.shape[1])

    @property
    def n_works(self) -> int:
        return int(self.work_offsets[-1])

    @cached_property
    def work_counts(self) -> np.ndarray:
        return np.diff(np.asarray(self.work_offsets)).astype(np.int64)

    @cached_property
    def _by_id(self) -> tuple[np.ndarray, np.ndarray]:
        order = np.argsort(self.id_hashes, kind="stable")
        return np.asarray(self.id_hashes)[order], order

    def rows_with_hash(self, target: int) -> np.ndarray:
        """Rows whose id hashes to `target`, in row order."""
        keys, order = self._by_id
        key = np.uint64(target)
        return np.sort(order[np.searchsorted(keys, key, "left") : np.searchsorted(keys, key, "right")])

    @cached_property
    def role_links(self) -> np.ndarray:
        """(R, R) counts of links between roles (`role_categories`), over the links this segment
        holds between its own rows: how often organisations of each kind worked together."""
        owners = np.repeat(np.arange(len(self), dtype=np.int64), np.diff(np.asarray(self.links.indptr)))
        partners = self.last_rows_with_hashes(np.asarray(self.links.hashes))
        keep = partners >= 0
        categories = role_categories(self.roles, self.sme)
        pairs = categories[owners[keep]] * N_ROLE_CATEGORIES + categories[partners[keep]]
        counts = np.bincount(pairs, minlength=N_ROLE_CATEGORIES**2)
        return counts.reshape(N_ROLE_CATEGORIES, N_ROLE_CATEGORIES)

    def last_rows_with_hashes(self, targets: np.ndarray) -> np.ndarray:
        """For each id hash, the last row holding it (-1 where none), by hash alone (2^-64 collisions)."""
        keys, order = self._by_id
        targets = np.asarray(targets, dtype=np.uint64)
        right = np.searchsorted(keys, targets, "right")
        found = (right > 0) & (keys[np.maximum(right - 1, 0)] == targets) if len(keys) else np.zeros(len(targets), bool)
        out = np.full(len(targets), -1, dtype=np.int64)
        if found.any():  # among equal hashes the stable sort keeps row order: the last is the newest
            out[found] = order[right[found] - 1]
        return out

    def last_row_of(self, profile_id: str) -> int | None:
        """The last row holding `profile_id` (a replaced profile has several until a merge)."""
        for row in self.rows_with_hash(id_hash(profile_id))[::-1].tolist():
            if self.ids[row] == profile_id:
                return int(row)
        return None

    def take(self, rows: np.ndarray) -> Segment:
        """A new segment of the given rows, in that order (arrays copied out of any memory map)."""
        rows = np.asarray(rows, dtype=np.int64)
        works, _ = segments_of(np.asarray(self.work_offsets), rows)
        offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(self.work_counts[rows], out=offsets[1:])
        return Segment(
            ids=_take_strings(self.ids, rows),
            names=_take_strings(self.names, rows),
            institutions=_take_strings(self.institutions, rows),
            work_ids=_take_strings(self.work_ids, works),
            work_titles=_take_strings(self.work_titles, works),
            countries=np.asarray(self.countries)[rows],
            kinds=np.asarray(self.kinds)[rows],
            capacity=np.asarray(self.capacity)[rows],
            has_keywords=np.asarray(self.has_keywords)[rows],
            institution_keys=np.asarray(self.institution_keys)[rows],
            id_hashes=np.asarray(self.id_hashes)[rows],
            roles=np.asarray(self.roles)[rows],
            sme=np.asarray(self.sme)[rows],
            last_years=np.asarray(self.last_years)[rows],
            work_offsets=offsets,
            work_vectors=np.asarray(self.work_vectors)[works],
            summary=np.asarray(self.summary)[rows],
            lexical=self.lexical.take(rows),
            lexical_norms=np.asarray(self.lexical_norms)[rows],
            lexical_lengths=np.asarray(self.lexical_lengths)[rows],
            links=self.links.take(rows),
        )

    @staticmethod
    def concat(parts: Sequence[Segment]) -> Segment:
        """Rows of every part, in order (the parts must share one lexical model)."""
        parts = [p for p in parts if len(p)] or list(parts[:1])
        if len(parts) == 1:
            return parts[0]
        works = np.cumsum([0, *(p.n_works for p in parts)])
        return Segment(
            ids=_concat_strings([p.ids for p in parts]),
            names=_concat_strings([p.names for p in parts]),
            institutions=_concat_strings([p.institutions for p in parts]),
            work_ids=_concat_strings([p.work_ids for p in parts]),
            work_titles=_concat_strings([p.work_titles for p in parts]),
            countries=np.concatenate([p.countries for p in parts]).astype("<U2"),
            kinds=np.concatenate([p.kinds for p in parts]).astype("<U12"),
            capacity=np.concatenate([p.capacity for p in parts]).astype(np.int32),
            has_keywords=np.concatenate([p.has_keywords for p in parts]).astype(bool),
            institution_keys=np.concatenate([p.institution_keys for p in parts]).astype(np.uint64),
            id_hashes=np.concatenate([p.id_hashes for p in parts]).astype(np.uint64),
            roles=np.concatenate([p.roles for p in parts]).astype(np.uint8),
            sme=np.concatenate([p.sme for p in parts]).astype(np.int8),
            last_years=np.concatenate([p.last_years for p in parts]).astype(np.int16),
            work_offsets=_concat_offsets([p.work_offsets for p in parts], works),
            work_vectors=np.concatenate([p.work_vectors for p in parts]).astype(np.float16),
            summary=np.concatenate([p.summary for p in parts]).astype(np.float16),
            lexical=CsrBlock.concat([p.lexical for p in parts]),
            lexical_norms=np.concatenate([p.lexical_norms for p in parts]).astype(np.float32),
            lexical_lengths=np.concatenate([p.lexical_lengths for p in parts]).astype(np.float32),
            links=Links.concat([p.links for p in parts]),
        )

    def with_lexical(self, lexical: CsrBlock) -> Segment:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return Segment(**{**values, "lexical": lexical})

    # -- files ----------------------------------------------------------------------------------

    def save(self, directory: Path, write: Writer) -> None:
        """Every column as .npy files in `directory`, each written by `write(path, array)`."""
        for name in _STRINGS:
            getattr(self, name).save(directory, name, write)
        for name in _ARRAYS:
            write(directory / f"{name}.npy", getattr(self, name))
        self.lexical.save(directory, "lexical", write)
        for part in ("indptr", "hashes", "counts"):
            write(directory / f"links_{part}.npy", getattr(self.links, part))

    @classmethod
    def load(cls, directory: Path) -> Segment:
        """The segment saved in `directory`, memory-mapped (vectors copy-on-write, never written)."""

        def array(name: str) -> np.ndarray:
            return np.load(directory / f"{name}.npy", mmap_mode="c", allow_pickle=False)

        values: dict[str, object] = {name: PackedStrings.load(directory, name) for name in _STRINGS}
        values.update({name: array(name) for name in _ARRAYS})
        values["lexical"] = CsrBlock.load(directory, "lexical")
        values["links"] = Links(*(array(f"links_{part}") for part in ("indptr", "hashes", "counts")))
        return cls(**values)  # type: ignore[arg-type]

    @classmethod
    def empty(cls, dim: int, n_terms: int = 0) -> Segment:
        return SegmentBuilder().finish(np.zeros((0, dim), np.float16), Weighed.empty(n_terms))


_STRINGS = ("ids", "names", "institutions", "work_ids", "work_titles")
_ARRAYS = (
    "countries", "kinds", "capacity", "has_keywords", "institution_keys", "id_hashes", "roles", "sme", "last_years",
    "work_offsets", "work_vectors", "summary", "lexical_norms", "lexical_lengths",
)


def _take_strings(column: PackedStrings, rows: np.ndarray) -> PackedStrings:
    positions, _ = segments_of(np.asarray(column.offsets), rows)
    lengths = np.asarray(column.offsets)[rows + 1] - np.asarray(column.offsets)[rows]
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return PackedStrings(np.asarray(column.blob)[positions], offsets)


def _concat_strings(columns: Sequence[PackedStrings]) -> PackedStrings:
    blobs = [np.asarray(c.blob) for c in columns]
    starts = np.cumsum([0, *(len(b) for b in blobs)])
    return PackedStrings(np.concatenate(blobs), _concat_offsets([c.offsets for c in columns], starts))


def _concat_offsets(parts: Sequence[np.ndarray], starts: Sequence[int] | np.ndarray) -> np.ndarray:
    """Offset arrays (each starting at 0) of consecutive parts, as one array over their concatenation."""
    shifted = [np.asarray(offsets[1:]) + start for offsets, start in zip(parts, starts, strict=False)]
    return np.concatenate([np.zeros(1, np.int64), *shifted]).astype(np.int64)


class SegmentBuilder:
    """Collects the columns of profiles added one at a time, in row order; `finish` takes their
    work vectors and lexical rows (computed by the caller, who may stream a whole store)."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self._names: list[str] = []
        self._institutions: list[str] = []
        self._countries: list[str] = []
        self._kinds: list[str] = []
        self._capacity: list[int] = []
        self._keywords: list[bool] = []
        self._roles: list[int] = []
        self._sme: list[int] = []
        self._last_years: list[int] = []
        self._counts: list[int] = []
        self._work_ids: list[str] = []
        self._work_titles: list[str] = []
        self._listed: list[tuple[int, str, int]] = []  # (row, partner id, works listing it)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def n_texts(self) -> int:
        return len(self._work_ids)

    def add(self, profile: Profile) -> list[str]:
        """Record one profile (the next row) and return its texts to embed, in row order."""
        row = len(self.ids)
        texts = profile.texts
        if not texts:
            raise ValueError(f"profile {profile.id} has no works and no keywords")
        self.ids.append(profile.id)
        self._names.append(profile.name)
        self._institutions.append(profile.institution)
        self._countries.append(profile.country)
        self._kinds.append(profile.kind)
        self._capacity.append(profile.capacity or 0)
        self._keywords.append(bool(profile.keywords))
        self._roles.append(ROLE_CODES.get(profile.role or "", 0))
        self._sme.append(SME_NOT_SAID if profile.sme is None else SME_YES if profile.sme else SME_NO)
        self._last_years.append(profile.last_year or 0)
        self._counts.append(len(texts))
        self._work_ids.extend(w.id for w in profile.works)
        self._work_titles.extend(w.title for w in profile.works)
        if profile.keywords:
            self._work_ids.append(profile.id + KEYWORDS_SUFFIX)
            self._work_titles.append(profile.keyword_text)
        shared: dict[str, int] = {}
        for work in profile.works:
            for partner in set(work.coauthors):
                shared[partner] = shared.get(partner, 0) + 1
        self._listed.extend((row, partner, n) for partner, n in shared.items())
        return texts

    def finish(self, work_vectors: np.ndarray, lexical: Weighed) -> Segment:
        """The segment, given every added text's vector (unit rows) and every row's lexical terms."""
        if len(work_vectors) != self.n_texts:
            raise ValueError(f"{self.n_texts} texts but {len(work_vectors)} vectors")
        if lexical.rows.shape[0] != len(self.ids):
            raise ValueError(f"{len(self.ids)} profiles but {lexical.rows.shape[0]} lexical rows")
        counts = np.asarray(self._counts, dtype=np.int64)
        offsets = np.zeros(len(counts) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        vectors = half.to_half(work_vectors)
        listed_counts = np.bincount([r for r, _, _ in self._listed], minlength=len(self.ids)).astype(np.int64)
        listed_indptr = np.zeros(len(self.ids) + 1, dtype=np.int64)
        np.cumsum(listed_counts, out=listed_indptr[1:])
        return Segment(
            ids=PackedStrings.from_strings(self.ids),
            names=PackedStrings.from_strings(self._names),
            institutions=PackedStrings.from_strings(self._institutions),
            work_ids=PackedStrings.from_strings(self._work_ids),
            work_titles=PackedStrings.from_strings(self._work_titles),
            countries=np.asarray(self._countries, dtype="<U2"),
            kinds=np.asarray(self._kinds, dtype="<U12"),
            capacity=np.asarray(self._capacity, dtype=np.int32),
            has_keywords=np.asarray(self._keywords, dtype=bool),
            institution_keys=np.fromiter((institution_key(i) for i in self._institutions), np.uint64, len(self.ids)),
            id_hashes=id_hashes(self.ids),
            roles=np.asarray(self._roles, dtype=np.uint8),
            sme=np.asarray(self._sme, dtype=np.int8),
            last_years=np.asarray(self._last_years, dtype=np.int16),
            work_offsets=offsets,
            work_vectors=vectors,
            summary=summaries(vectors, offsets),
            lexical=CsrBlock.of(lexical.rows),
            lexical_norms=np.asarray(lexical.norms, dtype=np.float32),
            lexical_lengths=np.asarray(lexical.lengths, dtype=np.float32),
            links=Links(
                listed_indptr,
                id_hashes(p for _, p, _ in self._listed),
                np.asarray([n for _, _, n in self._listed], dtype=np.int32),
            ),
        )


def summaries(vectors: np.ndarray, offsets: np.ndarray, block: int = 4096) -> np.ndarray:
    """Normalised per-row means of float16 work vectors, summed in float32 `block` rows at a time
    (no float32 copy of every work vector: that would double the memory float16 storage saves)."""
    out = np.empty((len(offsets) - 1, vectors.shape[1]), dtype=np.float16)
    for lo in range(0, len(offsets) - 1, block):
        hi = min(lo + block, len(offsets) - 1)
        part = vectors[offsets[lo] : offsets[hi]]
        sums = np.add.reduceat(part, offsets[lo:hi] - offsets[lo], axis=0, dtype=np.float32)
        out[lo:hi] = sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
    return out
