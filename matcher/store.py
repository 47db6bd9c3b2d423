"""The embedded store: SQLite (WAL) for profiles, works and the embedding cache, plus `.npy` snapshots.

Every write runs in one transaction and bumps a generation counter, so a vector snapshot can tell
whether it still agrees with the database.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import tempfile
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from matcher.errors import ProfileExists, ProfileNotFound
from matcher.profiles import Profile, parse_profile, profile_to_dict

__all__ = ["Store", "StoreReader", "UpsertResult", "save_npy_atomic", "text_hash", "write_text_atomic"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS profiles (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    country TEXT NOT NULL,
    name TEXT NOT NULL,
    data TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE TABLE IF NOT EXISTS works (
    profile_id TEXT NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    work_id TEXT NOT NULL,
    title TEXT NOT NULL,
    year INTEGER,
    text_hash TEXT NOT NULL,
    PRIMARY KEY (profile_id, position)
);
CREATE INDEX IF NOT EXISTS works_by_hash ON works(text_hash);
CREATE TABLE IF NOT EXISTS embeddings (
    model_id TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (model_id, text_hash)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO meta VALUES ('generation', '0');
"""


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def save_npy_atomic(path: Path, array: np.ndarray) -> None:
    """Write an array to a temporary file beside `path`, fsync it, and move it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.save(handle, array, allow_pickle=False)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


@dataclass(frozen=True)
class UpsertResult:
    added: int = 0
    updated: int = 0
    unchanged: int = 0


class Store:
    """Profiles, works and cached embeddings in one SQLite file under `home`."""

    def __init__(self, home: Path):
        self.home = Path(home)
        self.home.mkdir(parents=True, exist_ok=True)
        self.path = self.home / "matcher.sqlite3"
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)

    @property
    def snapshot_dir(self) -> Path:
        return self.home / "snapshots"

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- profiles -------------------------------------------------------------------------------

    def generation(self) -> int:
        with self._lock:
            return _generation(self._db)

    def count(self) -> int:
        with self._lock:
            return _count(self._db)

    def upsert(self, profiles: Iterable[Profile], *, create_only: bool = False) -> UpsertResult:
        """Insert or replace profiles by id in one transaction; unchanged records are left alone."""
        added = updated = unchanged = 0
        with self._lock, self._transaction():
            for profile in profiles:
                digest = profile.content_hash()
                row = self._db.execute(
                    "SELECT content_hash FROM profiles WHERE id=?", (profile.id,)
                ).fetchone()
                if row is not None and create_only:
                    raise ProfileExists(profile.id)
                if row is not None and row[0] == digest:
                    unchanged += 1
                    continue
                self._write(profile, digest, replace=row is not None)
                if row is None:
                    added += 1
                else:
                    updated += 1
            if added or updated:
                self._bump()
        return UpsertResult(added, updated, unchanged)

    def _write(self, profile: Profile, digest: str, *, replace: bool) -> None:
        data = json.dumps(profile_to_dict(profile, private=True), ensure_ascii=False)
        if replace:
            self._db.execute("DELETE FROM profiles WHERE id=?", (profile.id,))
        self._db.execute(
            "INSERT INTO profiles(id, kind, country, name, data, content_hash) VALUES (?,?,?,?,?,?)",
            (profile.id, profile.kind, profile.country, profile.name, data, digest),
        )
        self._db.executemany(
            "INSERT INTO works(profile_id, position, work_id, title, year, text_hash) VALUES (?,?,?,?,?,?)",
            [
                (profile.id, i, w.id, w.title, w.year, text_hash(w.text))
                for i, w in enumerate(profile.works)
            ],
        )

    def get(self, profile_id: str) -> Profile:
        with self._lock:
            row = self._db.execute("SELECT data FROM profiles WHERE id=?", (profile_id,)).fetchone()
        if row is None:
            raise ProfileNotFound(profile_id)
        return parse_profile(json.loads(row[0]))

    def exists(self, profile_id: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM profiles WHERE id=?", (profile_id,)).fetchone() is not None

    def profiles(self) -> list[Profile]:
        """Every profile, ordered by id."""
        with self._lock:
            rows = self._db.execute("SELECT data FROM profiles ORDER BY id").fetchall()
        return [parse_profile(json.loads(r[0])) for r in rows]

    @contextmanager
    def reader(self) -> Iterator[StoreReader]:
        """A consistent read-only view of the profiles (one SQLite read transaction on its own
        connection): writers go on meanwhile, the view does not see them."""
        db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None)
        try:
            db.execute("BEGIN")
            yield StoreReader(db)
            db.execute("COMMIT")
        finally:
            db.close()

    def list_ids(self, *, offset: int = 0, limit: int = 100) -> list[tuple[str, str, str, str]]:
        with self._lock:
            return self._db.execute(
                "SELECT id, name, kind, country FROM profiles ORDER BY id LIMIT ? OFFSET ?", (limit, offset)
            ).fetchall()

    def delete(self, profile_id: str) -> None:
        """Remove a profile, its works, and cached vectors of texts no other profile uses."""
        with self._lock:
            profile = self.get(profile_id)
            hashes = [text_hash(t) for t in profile.texts]
            with self._transaction():
                self._db.execute("DELETE FROM profiles WHERE id=?", (profile_id,))
                for digest in hashes:
                    if not self._db.execute("SELECT 1 FROM works WHERE text_hash=?", (digest,)).fetchone():
                        self._db.execute("DELETE FROM embeddings WHERE text_hash=?", (digest,))
                self._bump()

    # -- embedding cache ------------------------------------------------------------------------

    def cached_vectors(self, model_id: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for start in range(0, len(hashes), 500):
                batch = list(hashes[start : start + 500])
                marks = ",".join("?" * len(batch))
                for digest, blob in self._db.execute(
                    f"SELECT text_hash, vector FROM embeddings WHERE model_id=? AND text_hash IN ({marks})",
                    [model_id, *batch],
                ):
                    found[digest] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_vectors(self, model_id: str, hashes: Sequence[str], vectors: np.ndarray) -> None:
        rows = [
            (model_id, digest, np.ascontiguousarray(vec, dtype=np.float32).tobytes())
            for digest, vec in zip(hashes, vectors, strict=True)
        ]
        with self._lock, self._transaction():
            self._db.executemany("INSERT OR REPLACE INTO embeddings VALUES (?,?,?)", rows)

    def cache_size(self, model_id: str) -> int:
        with self._lock:
            return int(
                self._db.execute("SELECT count(*) FROM embeddings WHERE model_id=?", (model_id,)).fetchone()[0]
            )

    # -- shared access for the store's other tables (keys, audit, jobs) ---------------------------

    def execute(self, sql: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]:
        """Run one statement (its own transaction) and return every row."""
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def ensure_schema(self, ddl: str) -> None:
        with self._lock:
            self._db.executescript(ddl)

    # -- internals ------------------------------------------------------------------------------

    def _bump(self) -> None:
        self._db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key='generation'")

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


def _generation(db: sqlite3.Connection) -> int:
    return int(db.execute("SELECT value FROM meta WHERE key='generation'").fetchone()[0])


def _count(db: sqlite3.Connection) -> int:
    return int(db.execute("SELECT count(*) FROM profiles").fetchone()[0])


class StoreReader:
    """Profiles as of one moment, streamed in id order a batch at a time (see `Store.reader`)."""

    def __init__(self, db: sqlite3.Connection):
        self._db = db

    def generation(self) -> int:
        return _generation(self._db)

    def count(self) -> int:
        return _count(self._db)

    def profiles(self, batch: int = 1000) -> Iterator[Profile]:
        cursor = self._db.execute("SELECT data FROM profiles ORDER BY id")
        while rows := cursor.fetchmany(batch):
            for (data,) in rows:
                yield parse_profile(json.loads(data))


class _Transaction:
    def __init__(self, db: sqlite3.Connection):
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")
