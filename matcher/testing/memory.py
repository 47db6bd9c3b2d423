"""An in-memory `Store` for fast tests: the same contract as `SqliteStore` (tests/test_store.py),
with dictionaries instead of tables. Snapshots of the matching state still go to files under
`home`, like any store's."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from matcher.domain.errors import ProfileExists, ProfileNotFound
from matcher.domain.profiles import Profile
from matcher.store.base import Change, UpsertResult, text_hash

__all__ = ["MemoryStore"]


class MemoryStore:
    def __init__(self, home: Path):
        self.home = Path(home)
        self.home.mkdir(parents=True, exist_ok=True)
        self._profiles: dict[str, tuple[str, Profile]] = {}  # id -> (content hash, profile)
        self._changes: list[tuple[int, str]] = []  # (seq, profile id), in order
        self._seq = 0
        self._pruned = 0
        self._vectors: dict[tuple[str, str], np.ndarray] = {}
        self._id = uuid.uuid4().hex
        self._lock = threading.RLock()

    @property
    def state_dir(self) -> Path:
        return self.home / "state"

    def store_id(self) -> str:
        return self._id

    def generation(self) -> int:
        return self._seq

    def count(self) -> int:
        return len(self._profiles)

    def _record(self, profile_id: str) -> int:
        self._seq += 1
        self._changes.append((self._seq, profile_id))
        return self._seq

    def upsert(self, profiles: Sequence[Profile], *, create_only: bool = False) -> UpsertResult:
        with self._lock:
            staged = dict(self._profiles)
            added = updated = unchanged = 0
            written: list[str] = []
            for profile in profiles:
                digest = profile.content_hash()
                old = staged.get(profile.id)
                if old is not None and create_only:
                    raise ProfileExists(profile.id)  # nothing of this call is kept, as in a rolled-back transaction
                if old is not None and old[0] == digest:
                    unchanged += 1
                    continue
                staged[profile.id] = (digest, profile)
                written.append(profile.id)
                added, updated = (added + 1, updated) if old is None else (added, updated + 1)
            self._profiles = staged
            versions = {pid: self._record(pid) for pid in written}
            return UpsertResult(added, updated, unchanged, versions)

    def content_hashes(self, profile_ids: Sequence[str]) -> dict[str, str]:
        return {pid: self._profiles[pid][0] for pid in profile_ids if pid in self._profiles}

    def get(self, profile_id: str) -> Profile:
        found = self._profiles.get(profile_id)
        if found is None:
            raise ProfileNotFound(profile_id)
        return found[1]

    def exists(self, profile_id: str) -> bool:
        return profile_id in self._profiles

    def with_identifiers(self, orcids: Collection[str], openalex: Collection[str]) -> list[tuple[str, str, str]]:
        found = [(p.id, key, value) for _, p in self._profiles.values()
                 for key, value, wanted in (("orcid", p.orcid, orcids), ("openalex", p.openalex, openalex))
                 if value is not None and value in wanted]
        return sorted(found)

    def profiles(self) -> list[Profile]:
        return [self._profiles[pid][1] for pid in sorted(self._profiles)]

    def list_ids(self, *, offset: int = 0, limit: int = 100) -> list[tuple[str, str, str, str]]:
        rows = [(p.id, p.name, p.kind, p.country) for p in self.profiles()]
        return rows[offset : offset + limit]

    def delete(self, profile_id: str) -> int:
        with self._lock:
            _, profile = self._profiles.pop(profile_id, (None, None))
            if profile is None:
                raise ProfileNotFound(profile_id)
            used = {text_hash(t) for _, p in self._profiles.values() for t in p.texts}
            for digest in {text_hash(t) for t in profile.texts} - used:
                for key in [k for k in self._vectors if k[1] == digest]:
                    del self._vectors[key]
            return self._record(profile_id)

    @contextmanager
    def reader(self) -> Iterator[_MemoryReader]:
        with self._lock:
            view = _MemoryReader(dict(self._profiles), list(self._changes), self._seq, self._pruned)
        yield view

    def count_changed_since(self, generation: int) -> int:
        return len({pid for seq, pid in self._changes if seq > generation})

    def prune_changes(self, through: int) -> None:
        with self._lock:
            if through > self._pruned:
                self._changes = [(seq, pid) for seq, pid in self._changes if seq > through]
                self._pruned = through

    def cached_vectors(self, model_id: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        return {h: self._vectors[(model_id, h)] for h in hashes if (model_id, h) in self._vectors}

    def cached_hashes(self, model_id: str, hashes: Sequence[str]) -> set[str]:
        return {h for h in hashes if (model_id, h) in self._vectors}

    def put_vectors(self, model_id: str, hashes: Sequence[str], vectors: np.ndarray) -> None:
        with self._lock:
            for digest, vector in zip(hashes, vectors, strict=True):
                self._vectors[(model_id, digest)] = np.array(vector, dtype=np.float32)

    def cache_size(self, model_id: str) -> int:
        return sum(1 for m, _ in self._vectors if m == model_id)

    def close(self) -> None:
        pass


class _MemoryReader:
    def __init__(self, profiles: dict[str, tuple[str, Profile]], changes: list[tuple[int, str]], seq: int, pruned: int):
        self._profiles, self._changes, self._seq, self._pruned = profiles, changes, seq, pruned

    def generation(self) -> int:
        return self._seq

    def count(self) -> int:
        return len(self._profiles)

    def pruned_through(self) -> int:
        return self._pruned

    def profiles(self, batch: int = 1000) -> Iterator[Profile]:
        return (self._profiles[pid][1] for pid in sorted(self._profiles))

    def changed_since(self, generation: int) -> list[tuple[str, int]]:
        last: dict[str, int] = {}
        for seq, pid in self._changes:
            if seq > generation:
                last[pid] = seq
        return sorted(last.items(), key=lambda item: item[1])

    def changes(self, changed: Sequence[tuple[str, int]]) -> list[Change]:
        return [Change(pid, version, self._profiles[pid][1] if pid in self._profiles else None)
                for pid, version in changed]
