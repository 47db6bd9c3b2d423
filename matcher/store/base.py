"""The store interface: what the rest of the product needs from wherever profiles live.

`Store` holds profiles and their works, numbers every change (a change log: the store's generation
is the last change's number), reads a consistent view of itself (`reader`), and keeps the embedding
cache. `SqliteStore` (`matcher.store.sqlite`) is the embedded default; `PostgresStore`
(`matcher.store.postgres`, MATCHER_STORE=postgresql://...) is shared by many processes; an
in-memory fake (`matcher.testing.memory`) passes the same contract suite (`tests/test_store.py`),
and another backend plugs in by offering these methods.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from matcher.domain.profiles import Profile
from matcher.store.space import DiskSpace

__all__ = [
    "Change", "ServiceStore", "SqlTables", "Store", "StoreReader", "UpsertResult", "family_model_id", "text_hash",
    "utc_now",
]


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class UpsertResult:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    versions: dict[str, int] = field(default_factory=dict)  # id -> change number, for profiles written


@dataclass(frozen=True)
class Change:
    """A profile's state as of its last change: `profile` None when it was deleted."""

    profile_id: str
    version: int
    profile: Profile | None


_KERNEL_KEY = re.compile(r"\+onnx-int8-[a-z0-9_]+$")


def family_model_id(model_id: str) -> str:
    """An embedding cache key as earlier versions wrote it (`...+onnx-int8-avx512_vnni`, naming the
    CPU's int8 kernel) in today's form (`...+int8`, the numeric family)."""
    return _KERNEL_KEY.sub("+int8", model_id)


class StoreReader(Protocol):
    """The store as of one moment: writers go on meanwhile, the view does not see them."""

    def generation(self) -> int: ...

    def count(self) -> int: ...

    def pruned_through(self) -> int:
        """Changes up to this generation are forgotten: a state older than it cannot catch up."""
        ...

    def profiles(self, batch: int = 1000) -> Iterator[Profile]:
        """Every profile, in id order."""
        ...

    def changed_since(self, generation: int) -> list[tuple[str, int]]:
        """(id, last change number) of every profile changed after `generation`, oldest first."""
        ...

    def changes(self, changed: Sequence[tuple[str, int]]) -> list[Change]:
        """The current state of each (id, version) from `changed_since`."""
        ...


class Store(Protocol):
    """Profiles, the change log and the embedding cache (see the module)."""

    home: Path

    @property
    def state_dir(self) -> Path:
        """Where the matching state's snapshots of this store live."""
        ...

    def store_id(self) -> str: ...

    def generation(self) -> int: ...

    def count(self) -> int: ...

    def upsert(self, profiles: Sequence[Profile], *, create_only: bool = False) -> UpsertResult:
        """Insert or replace by id in one transaction; unchanged records are left alone."""
        ...

    def content_hashes(self, profile_ids: Sequence[str]) -> dict[str, str]: ...

    def get(self, profile_id: str) -> Profile: ...

    def exists(self, profile_id: str) -> bool: ...

    def with_identifiers(self, orcids: Collection[str], openalex: Collection[str]) -> list[tuple[str, str, str]]:
        """Stored profiles whose ORCID iD is in `orcids` or whose OpenAlex id is in `openalex`:
        ``(profile id, "orcid" or "openalex", the shared value)`` rows, ordered."""
        ...

    def profiles(self) -> list[Profile]: ...

    def list_ids(self, *, offset: int = 0, limit: int = 100) -> list[tuple[str, str, str, str]]: ...

    def delete(self, profile_id: str) -> int:
        """Remove a profile and the cached vectors only it used; the deletion's change number."""
        ...

    def reader(self) -> AbstractContextManager[StoreReader]: ...

    def count_changed_since(self, generation: int) -> int: ...

    def prune_changes(self, through: int) -> None: ...

    def cached_vectors(self, model_id: str, hashes: Sequence[str]) -> dict[str, np.ndarray]: ...

    def cached_hashes(self, model_id: str, hashes: Sequence[str]) -> set[str]: ...

    def put_vectors(self, model_id: str, hashes: Sequence[str], vectors: np.ndarray) -> None: ...

    def cache_size(self, model_id: str) -> int: ...

    def close(self) -> None: ...


class SqlTables(Protocol):
    """What the store's other repositories (keys, jobs, audit) need: statements in the SQL both
    backends speak (`?` placeholders, `ON CONFLICT`, `LIKE`; timestamps passed in as `utc_now()`
    text), run by the store. `dialect` is "sqlite" or "postgresql"."""

    dialect: str

    def execute(self, sql: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]: ...

    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]: ...

    def executemany(self, sql: str, rows: Iterable[Sequence[object]]) -> None: ...

    def ensure_schema(self, ddl: str) -> None: ...


class ServiceStore(Store, SqlTables, Protocol):
    """A store the service runs on (SQLite or PostgreSQL): the `Store` contract, the repositories'
    tables, and what erasure and the health check need."""

    space: DiskSpace

    def listing(self, values: Iterable[str]) -> list[Profile]:
        """Profiles whose works list any of `values` (ids or names) among their co-authors."""
        ...

    def checkpoint(self) -> bool:
        """After an erasure: no file the store controls keeps the erased rows; False if that must wait."""
        ...


def utc_now(offset_s: float = 0.0, *, millis: bool = False) -> str:
    """The time `offset_s` seconds from now, as the stores keep it: 2026-01-31T12:00:00Z
    (with milliseconds, 2026-01-31T12:00:00.123Z, for the audit trail)."""
    at = time.time() + offset_s
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at))
    return f"{text}.{int(at * 1000) % 1000:03d}Z" if millis else f"{text}Z"
