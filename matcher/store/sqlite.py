"""The embedded store: SQLite (WAL) for profiles, works and the embedding cache.

Every write runs in one transaction and appends one row per profile it changed to a change log
(`changes`); the store's generation is the last change's number. The matching state records the
generation it reflects, so any process (a server, a one-shot CLI command) catches up by reading
only the profiles changed since, and every change carries the version it wrote.

Erased data does not linger in the files: every connection sets `secure_delete` (deleted rows are
overwritten with zeros, whatever the SQLite build's default), and `checkpoint` empties the
write-ahead log, whose older pages still hold rows as they were. The folder is the owner's alone
(0700, the database files 0600). A write that fails for lack of disk space raises `StoreFull`
(`matcher.store.space`).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import threading
import uuid
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from matcher.domain.errors import ProfileExists, ProfileNotFound
from matcher.domain.profiles import Profile, parse_profile, profile_to_dict
from matcher.store.base import Change, UpsertResult, family_model_id, text_hash
from matcher.store.space import DiskSpace

__all__ = ["SqliteReader", "SqliteStore"]

log = logging.getLogger("matcher.store.sqlite")

SCHEMA_VERSION = 2
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
CREATE INDEX IF NOT EXISTS embeddings_by_hash ON embeddings(text_hash);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO meta VALUES ('generation', '0');
CREATE TABLE IF NOT EXISTS changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    profile_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS changes_by_profile ON changes(profile_id);
"""


class SqliteStore:
    """Profiles, works, the change log and cached embeddings in one SQLite file under `home`."""

    dialect = "sqlite"

    def __init__(self, home: Path):
        self.home = Path(home)
        self.home.mkdir(mode=0o700, parents=True, exist_ok=True)
        _private(self.home, 0o700)
        self.path = self.home / "matcher.sqlite3"
        self.space = DiskSpace()
        self._lock = threading.RLock()  # the one writing connection
        self._local = threading.local()  # a read-only connection per thread: reads never wait for a write
        self._readers: list[sqlite3.Connection] = []
        self._db = _connect(str(self.path), check_same_thread=False)
        for suffix in ("", "-wal", "-shm"):  # the log and index SQLite makes later copy the file's mode
            path = self.path.with_name(self.path.name + suffix)
            if path.exists():
                _private(path, 0o600)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        with self._writing():
            self._db.executescript(_SCHEMA)
            with self._transaction():
                self._migrate()

    @property
    def state_dir(self) -> Path:
        """Where the matching state's snapshots live (see `matcher.index.snapshot`)."""
        return self.home / "state"

    def _migrate(self) -> None:
        """Bring a store written by an earlier version up to date (in the opening transaction)."""
        version = int(self._meta("schema_version") or 1)
        if version < 2:
            # the change log starts now: earlier snapshots cannot be caught up, so none is kept
            generation = _generation(self._db)
            self._db.execute("DELETE FROM sqlite_sequence WHERE name='changes'")
            self._db.execute("INSERT INTO sqlite_sequence(name, seq) VALUES ('changes', ?)", (generation,))
            self._set_meta("changes_pruned_through", str(generation))
            # embedding cache keys name the numeric family, not the CPU kernel (+onnx-int8-avx2 -> +int8)
            for (model_id,) in self._db.execute("SELECT DISTINCT model_id FROM embeddings").fetchall():
                family = family_model_id(model_id)
                if family != model_id:
                    self._db.execute("UPDATE OR IGNORE embeddings SET model_id=? WHERE model_id=?", (family, model_id))
                    self._db.execute("DELETE FROM embeddings WHERE model_id=?", (model_id,))
            shutil.rmtree(self.home / "snapshots", ignore_errors=True)
        if self._meta("store_id") is None:
            self._set_meta("store_id", uuid.uuid4().hex)
        self._set_meta("schema_version", str(SCHEMA_VERSION))

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def store_id(self) -> str:
        """A random id given to the store when it was made: a snapshot belongs to one store."""
        row = self._read().execute("SELECT value FROM meta WHERE key='store_id'").fetchone()
        return str(row[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
            for reader in self._readers:
                reader.close()
            self._readers.clear()

    def _read(self) -> sqlite3.Connection:
        """This thread's read-only connection (each statement its own consistent read: WAL readers
        run beside the writer and never take the write lock)."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = _connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            self._local.db = db
            with self._lock:
                self._readers.append(db)
        return db

    # -- profiles -------------------------------------------------------------------------------

    def generation(self) -> int:
        return _generation(self._read())

    def count(self) -> int:
        return _count(self._read())

    def upsert(self, profiles: Iterable[Profile], *, create_only: bool = False) -> UpsertResult:
        """Insert or replace profiles by id in one transaction; unchanged records are left alone.
        Each profile written gets a change number (`versions`)."""
        added = updated = unchanged = 0
        versions: dict[str, int] = {}
        with self._writing(), self._transaction():
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
                versions[profile.id] = self._record_change(profile.id)
                if row is None:
                    added += 1
                else:
                    updated += 1
        return UpsertResult(added, updated, unchanged, versions)

    def content_hashes(self, profile_ids: Sequence[str]) -> dict[str, str]:
        """The stored content hash of each id that exists (to skip unchanged records early)."""
        found: dict[str, str] = {}
        db = self._read()
        for start in range(0, len(profile_ids), 500):
            batch = list(profile_ids[start : start + 500])
            marks = ",".join("?" * len(batch))
            found.update(db.execute(f"SELECT id, content_hash FROM profiles WHERE id IN ({marks})", batch))
        return found

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
        row = self._read().execute("SELECT data FROM profiles WHERE id=?", (profile_id,)).fetchone()
        if row is None:
            raise ProfileNotFound(profile_id)
        return parse_profile(json.loads(row[0]))

    def exists(self, profile_id: str) -> bool:
        return self._read().execute("SELECT 1 FROM profiles WHERE id=?", (profile_id,)).fetchone() is not None

    def with_identifiers(self, orcids: Collection[str], openalex: Collection[str]) -> list[tuple[str, str, str]]:
        """Stored profiles sharing an ORCID iD or OpenAlex id with those given (one pass over the rows)."""
        if not orcids and not openalex:
            return []
        wanted = {"orcid": set(orcids), "openalex": set(openalex)}
        rows = self._read().execute(
            "SELECT id, json_extract(data, '$.orcid'), json_extract(data, '$.openalex') FROM profiles "
            "WHERE json_extract(data, '$.orcid') IS NOT NULL OR json_extract(data, '$.openalex') IS NOT NULL"
        )
        found = [(pid, key, value) for pid, orcid, oa in rows
                 for key, value in (("orcid", orcid), ("openalex", oa)) if value in wanted[key]]
        return sorted(found)

    def profiles(self) -> list[Profile]:
        """Every profile, ordered by id."""
        rows = self._read().execute("SELECT data FROM profiles ORDER BY id").fetchall()
        return [parse_profile(json.loads(r[0])) for r in rows]

    @contextmanager
    def reader(self) -> Iterator[SqliteReader]:
        """A consistent read-only view of the profiles (one SQLite read transaction on its own
        connection): writers go on meanwhile, the view does not see them."""
        db = _connect(f"file:{self.path}?mode=ro", uri=True)
        try:
            db.execute("BEGIN")
            yield SqliteReader(db)
            db.execute("COMMIT")
        finally:
            db.close()

    def list_ids(self, *, offset: int = 0, limit: int = 100) -> list[tuple[str, str, str, str]]:
        return self._read().execute(
            "SELECT id, name, kind, country FROM profiles ORDER BY id LIMIT ? OFFSET ?", (limit, offset)
        ).fetchall()

    def delete(self, profile_id: str) -> int:
        """Remove a profile, its works, and cached vectors of texts no other profile uses; return
        the deletion's change number."""
        with self._writing():
            row = self._db.execute("SELECT data FROM profiles WHERE id=?", (profile_id,)).fetchone()
            if row is None:
                raise ProfileNotFound(profile_id)
            profile = parse_profile(json.loads(row[0]))
            with self._transaction():
                self._db.execute("DELETE FROM profiles WHERE id=?", (profile_id,))
                for digest in {text_hash(w.text) for w in profile.works}:
                    if not self._db.execute("SELECT 1 FROM works WHERE text_hash=?", (digest,)).fetchone():
                        self._db.execute("DELETE FROM embeddings WHERE text_hash=?", (digest,))
                if profile.keywords and not self._keywords_used(profile):
                    self._db.execute("DELETE FROM embeddings WHERE text_hash=?", (text_hash(profile.keyword_text),))
                return self._record_change(profile_id)

    def _keywords_used(self, profile: Profile) -> bool:
        """Whether another profile has the same keywords (keyword texts have no row in `works`)."""
        needle = json.dumps(list(profile.keywords), ensure_ascii=False)
        for (data,) in self._db.execute("SELECT data FROM profiles WHERE instr(data, ?)", (needle,)):
            if parse_profile(json.loads(data)).keyword_text == profile.keyword_text:
                return True
        return False

    def listing(self, values: Iterable[str]) -> list[Profile]:
        """Profiles whose works list any of `values` (ids or names) among their co-authors."""
        wanted = set(values)
        found: dict[str, Profile] = {}
        db = self._read()
        for value in wanted:
            needle = json.dumps(value, ensure_ascii=False)
            for (data,) in db.execute("SELECT data FROM profiles WHERE instr(data, ?)", (needle,)):
                profile = parse_profile(json.loads(data))
                if profile.coauthors & wanted:
                    found[profile.id] = profile
        return [found[pid] for pid in sorted(found)]

    def checkpoint(self) -> bool:
        """Copy the write-ahead log into the database and empty it: its frames keep pages as they
        were before later writes (an erased row among them). False when a reader in another
        process kept the log from being emptied (it waits up to the busy timeout first)."""
        with self._writing():
            busy, _, _ = self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return not busy

    def count_changed_since(self, generation: int) -> int:
        """How many profiles changed after `generation`."""
        row = self._read().execute("SELECT COUNT(DISTINCT profile_id) FROM changes WHERE seq > ?", (generation,))
        return int(row.fetchone()[0])

    def prune_changes(self, through: int) -> None:
        """Forget changes up to `through` (every snapshot in use is at least that recent)."""
        with self._writing(), self._transaction():
            done = int(self._meta("changes_pruned_through") or 0)
            if through > done:
                self._db.execute("DELETE FROM changes WHERE seq <= ?", (through,))
                self._set_meta("changes_pruned_through", str(through))

    # -- embedding cache ------------------------------------------------------------------------

    def cached_vectors(self, model_id: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        db = self._read()
        for start in range(0, len(hashes), 500):
            batch = list(hashes[start : start + 500])
            marks = ",".join("?" * len(batch))
            for digest, blob in db.execute(
                f"SELECT text_hash, vector FROM embeddings WHERE model_id=? AND text_hash IN ({marks})",
                [model_id, *batch],
            ):
                found[digest] = np.frombuffer(blob, dtype=np.float32)
        return found

    def cached_hashes(self, model_id: str, hashes: Sequence[str]) -> set[str]:
        """The hashes the cache holds a vector for (read from the key's index, not the vectors)."""
        found: set[str] = set()
        db = self._read()
        for start in range(0, len(hashes), 500):
            batch = list(hashes[start : start + 500])
            marks = ",".join("?" * len(batch))
            found.update(digest for (digest,) in db.execute(
                f"SELECT text_hash FROM embeddings WHERE model_id=? AND text_hash IN ({marks})", [model_id, *batch]))
        return found

    def put_vectors(self, model_id: str, hashes: Sequence[str], vectors: np.ndarray) -> None:
        rows = [
            (model_id, digest, np.ascontiguousarray(vec, dtype=np.float32).tobytes())
            for digest, vec in zip(hashes, vectors, strict=True)
        ]
        with self._writing(), self._transaction():
            self._db.executemany("INSERT OR REPLACE INTO embeddings VALUES (?,?,?)", rows)

    def cache_size(self, model_id: str) -> int:
        return int(self._read().execute("SELECT count(*) FROM embeddings WHERE model_id=?", (model_id,)).fetchone()[0])

    # -- shared access for the store's other tables (keys, audit, jobs) ---------------------------

    def execute(self, sql: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]:
        """Run one writing statement (its own transaction) and return every row."""
        with self._writing():
            return self._db.execute(sql, params).fetchall()

    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]:
        """Run one reading statement on this thread's read connection (never waits for a writer)."""
        return self._read().execute(sql, params).fetchall()

    def executemany(self, sql: str, rows: Iterable[Sequence[object]]) -> None:
        """Run one writing statement for many rows, in one transaction."""
        with self._writing(), self._transaction():
            self._db.executemany(sql, rows)

    def ensure_schema(self, ddl: str) -> None:
        with self._writing():
            self._db.executescript(ddl)

    # -- internals ------------------------------------------------------------------------------

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """The writing connection, with a full disk reported as `StoreFull`."""
        with self._lock, self.space.writing():
            yield

    def _record_change(self, profile_id: str) -> int:
        seq = int(self._db.execute("INSERT INTO changes(profile_id) VALUES (?)", (profile_id,)).lastrowid or 0)
        self._db.execute("UPDATE meta SET value=? WHERE key='generation'", (str(seq),))
        return seq

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


def _private(path: Path, mode: int) -> None:
    """Narrow a path's mode; a store this user does not own is left as it is, with a warning."""
    try:
        os.chmod(path, mode)
    except PermissionError:
        log.warning("cannot make %s private (mode %o): it belongs to another user", path, mode)


def _connect(target: str, *, uri: bool = False, check_same_thread: bool = True) -> sqlite3.Connection:
    """A connection in autocommit mode that zeroes what it deletes."""
    db = sqlite3.connect(target, uri=uri, isolation_level=None, check_same_thread=check_same_thread)
    db.execute("PRAGMA secure_delete=ON")
    return db


def _generation(db: sqlite3.Connection) -> int:
    return int(db.execute("SELECT value FROM meta WHERE key='generation'").fetchone()[0])


def _count(db: sqlite3.Connection) -> int:
    return int(db.execute("SELECT count(*) FROM profiles").fetchone()[0])


class SqliteReader:
    """The store as of one moment (see `Store.reader`): profiles streamed in id order, and the
    changes since a generation."""

    def __init__(self, db: sqlite3.Connection):
        self._db = db

    def generation(self) -> int:
        return _generation(self._db)

    def count(self) -> int:
        return _count(self._db)

    def store_id(self) -> str:
        row = self._db.execute("SELECT value FROM meta WHERE key='store_id'").fetchone()
        return "" if row is None else str(row[0])

    def pruned_through(self) -> int:
        """Changes up to this generation are forgotten: a state older than it cannot catch up."""
        row = self._db.execute("SELECT value FROM meta WHERE key='changes_pruned_through'").fetchone()
        return 0 if row is None else int(row[0])

    def profiles(self, batch: int = 1000) -> Iterator[Profile]:
        cursor = self._db.execute("SELECT data FROM profiles ORDER BY id")
        while rows := cursor.fetchmany(batch):
            for (data,) in rows:
                yield parse_profile(json.loads(data))

    def changed_since(self, generation: int) -> list[tuple[str, int]]:
        """(id, last change number) of every profile changed after `generation`, oldest first."""
        return [
            (str(pid), int(seq))
            for pid, seq in self._db.execute(
                "SELECT profile_id, MAX(seq) FROM changes WHERE seq > ? GROUP BY profile_id ORDER BY 2", (generation,)
            )
        ]

    def changes(self, changed: Sequence[tuple[str, int]]) -> list[Change]:
        """The current state of each (id, version) from `changed_since`."""
        found: dict[str, Profile] = {}
        ids = [pid for pid, _ in changed]
        for start in range(0, len(ids), 500):
            batch = ids[start : start + 500]
            marks = ",".join("?" * len(batch))
            for pid, data in self._db.execute(f"SELECT id, data FROM profiles WHERE id IN ({marks})", batch):
                found[pid] = parse_profile(json.loads(data))
        return [Change(pid, version, found.get(pid)) for pid, version in changed]


class _Transaction:
    def __init__(self, db: sqlite3.Connection):
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            if exc_type is None:
                self._db.execute("COMMIT")
        finally:  # after a failure, and after a COMMIT that failed (a full disk)
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")  # SQLite may have rolled back already (SQLITE_FULL)
