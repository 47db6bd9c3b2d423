"""The shared store: PostgreSQL (psycopg 3) for profiles, works, the change log, the embedding
cache, keys, jobs and the audit trail, so several processes on several machines work on one pool.

Selected by `MATCHER_STORE=postgresql://...`. The matching state's snapshots stay in a local
folder per process (`home`, MATCHER_HOME): each process builds them from the rows and catches up
through the change log.

Every profile write takes the one-row `generation` lock first, so changes are numbered in the
order they commit: a process that read up to generation g and then reads the changes after g
never misses one that committed later with a smaller number. A commit that changed profiles
notifies the channel `matcher_changes` with the new generation (LISTEN/NOTIFY). A reader is one
REPEATABLE READ, READ ONLY transaction: one moment of the store.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from matcher.domain.errors import MatcherError, ProfileExists, ProfileNotFound
from matcher.domain.profiles import Profile, parse_profile, profile_to_dict
from matcher.store.base import Change, UpsertResult, text_hash
from matcher.store.postgres_schema import migrate
from matcher.store.space import DiskSpace

__all__ = ["CHANNEL", "PostgresReader", "PostgresStore", "is_postgres_url", "redact"]

log = logging.getLogger("matcher.store.postgres")

CHANNEL = "matcher_changes"
# Changes are kept at least this long, whatever one process's snapshots need: every other process
# (an API replica, a worker) catches up from the log instead of rebuilding its state from the rows.
CHANGE_RETENTION_S = 86_400.0
_SCHEMES = ("postgresql://", "postgres://")
_TABLE = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+)", re.IGNORECASE)


def is_postgres_url(value: str | None) -> bool:
    return value is not None and value.startswith(_SCHEMES)


def redact(url: str) -> str:
    """The URL without its password (for messages and logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def connect(url: str, *, autocommit: bool = True) -> Any:
    """A psycopg connection; a database that cannot be reached is a `MatcherError` in one line."""
    try:
        import psycopg
    except ImportError:
        raise MatcherError("a postgresql:// store needs psycopg 3: install the 'scale' extra "
                           "(pip install 'research-partner-matcher[scale]')") from None

    try:
        return psycopg.connect(url, autocommit=autocommit, connect_timeout=10)
    except psycopg.Error as err:
        raise MatcherError(f"cannot reach the PostgreSQL store at {redact(url)}: {_reason(err)}") from None


def _reason(err: BaseException) -> str:
    """The first line of a driver error (the server's own words), or its class."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


class PostgresStore:
    """Profiles and everything else in a PostgreSQL database; snapshots under the local `home`."""

    dialect = "postgresql"

    def __init__(self, url: str, home: Path, *, change_retention_s: float = CHANGE_RETENTION_S):
        self.url = url
        self.change_retention_s = change_retention_s
        self.home = Path(home)
        self.home.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.space = DiskSpace()
        self._lock = threading.RLock()  # the one writing connection
        self._local = threading.local()  # a reading connection per thread (autocommit: each statement a moment)
        self._connections: list[Any] = []
        self._idle_readers: list[Any] = []  # connections for `reader()`, reused
        self._db = connect(url)
        self._connections.append(self._db)
        try:
            migrate(self._db)
        except Exception as err:
            self.close()
            if type(err).__module__.startswith("psycopg"):  # e.g. no right to create the tables
                raise MatcherError(f"cannot prepare the PostgreSQL store at {redact(url)}: {_reason(err)}") from None
            raise

    @property
    def state_dir(self) -> Path:
        return self.home / "state"

    def store_id(self) -> str:
        return str(self._read().execute("SELECT value FROM meta WHERE key = 'store_id'").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
            self._idle_readers.clear()

    def _read(self) -> Any:
        db = getattr(self._local, "db", None)
        if db is None or db.closed:
            db = connect(self.url)
            self._local.db = db
            with self._lock:
                self._connections.append(db)
        return db

    # -- profiles -------------------------------------------------------------------------------

    def generation(self) -> int:
        return int(self._read().execute("SELECT value FROM generation").fetchone()[0])

    def count(self) -> int:
        return int(self._read().execute("SELECT count(*) FROM profiles").fetchone()[0])

    def upsert(self, profiles: Iterable[Profile], *, create_only: bool = False) -> UpsertResult:
        """Insert or replace profiles by id in one transaction; unchanged records are left alone."""
        batch = list(profiles)
        added = updated = unchanged = 0
        versions: dict[str, int] = {}
        with self._changing() as db:
            generation = _lock_generation(db)
            stored = dict(db.execute("SELECT id, content_hash FROM profiles WHERE id = ANY(%s)",
                                     ([p.id for p in batch],)).fetchall())
            written: list[tuple[Profile, str]] = []
            for profile in batch:
                digest = profile.content_hash()
                old = stored.get(profile.id)
                if old is not None and create_only:
                    raise ProfileExists(profile.id)
                if old == digest:
                    unchanged += 1
                    continue
                if profile.id in versions:  # the same id twice in one call: the last one wins
                    written = [(p, d) for p, d in written if p.id != profile.id]
                added, updated = (added + 1, updated) if old is None else (added, updated + 1)
                generation += 1
                versions[profile.id] = generation
                stored[profile.id] = digest
                written.append((profile, digest))
            if written:
                self._write(db, written, versions)
        return UpsertResult(added, updated, unchanged, versions)

    def _write(self, db: Any, written: list[tuple[Profile, str]], versions: dict[str, int]) -> None:
        ids = [p.id for p, _ in written]
        db.execute("DELETE FROM profiles WHERE id = ANY(%s)", (ids,))
        with db.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO profiles(id, kind, country, name, data, content_hash) VALUES (%s,%s,%s,%s,%s,%s)",
                [(p.id, p.kind, p.country, p.name,
                  json.dumps(profile_to_dict(p, private=True), ensure_ascii=False), digest) for p, digest in written])
            cursor.executemany(
                "INSERT INTO works(profile_id, position, work_id, title, year, text_hash) VALUES (%s,%s,%s,%s,%s,%s)",
                [(p.id, i, w.id, w.title, w.year, text_hash(w.text)) for p, _ in written
                 for i, w in enumerate(p.works)])
            cursor.executemany("INSERT INTO changes(seq, profile_id) VALUES (%s, %s)",
                               sorted((v, pid) for pid, v in versions.items()))
        _set_generation(db, max(versions.values()))

    def content_hashes(self, profile_ids: Sequence[str]) -> dict[str, str]:
        rows = self._read().execute("SELECT id, content_hash FROM profiles WHERE id = ANY(%s)", (list(profile_ids),))
        return {str(i): str(h) for i, h in rows}

    def get(self, profile_id: str) -> Profile:
        row = self._read().execute("SELECT data FROM profiles WHERE id = %s", (profile_id,)).fetchone()
        if row is None:
            raise ProfileNotFound(profile_id)
        return parse_profile(json.loads(row[0]))

    def exists(self, profile_id: str) -> bool:
        return self._read().execute("SELECT 1 FROM profiles WHERE id = %s", (profile_id,)).fetchone() is not None

    def with_identifiers(self, orcids: Collection[str], openalex: Collection[str]) -> list[tuple[str, str, str]]:
        if not orcids and not openalex:
            return []
        rows = self._read().execute(
            "SELECT id, 'orcid', data::jsonb ->> 'orcid' FROM profiles WHERE data::jsonb ->> 'orcid' = ANY(%s) "
            "UNION ALL SELECT id, 'openalex', data::jsonb ->> 'openalex' FROM profiles "
            "WHERE data::jsonb ->> 'openalex' = ANY(%s)", (list(orcids), list(openalex)))
        return sorted((str(p), str(k), str(v)) for p, k, v in rows)

    def profiles(self) -> list[Profile]:
        rows = self._read().execute("SELECT data FROM profiles ORDER BY id").fetchall()
        return [parse_profile(json.loads(r[0])) for r in rows]

    def list_ids(self, *, offset: int = 0, limit: int = 100) -> list[tuple[str, str, str, str]]:
        rows = self._read().execute(
            "SELECT id, name, kind, country FROM profiles ORDER BY id LIMIT %s OFFSET %s", (limit, offset))
        return [tuple(map(str, row)) for row in rows]  # type: ignore[misc]

    def delete(self, profile_id: str) -> int:
        """Remove a profile, its works, and cached vectors of texts no other profile uses; the
        deletion's change number."""
        with self._changing() as db:
            generation = _lock_generation(db) + 1
            row = db.execute("SELECT data FROM profiles WHERE id = %s", (profile_id,)).fetchone()
            if row is None:
                raise ProfileNotFound(profile_id)
            profile = parse_profile(json.loads(row[0]))
            db.execute("DELETE FROM profiles WHERE id = %s", (profile_id,))
            digests = sorted({text_hash(w.text) for w in profile.works})
            db.execute("DELETE FROM embeddings WHERE text_hash = ANY(%s) AND NOT EXISTS "
                       "(SELECT 1 FROM works WHERE works.text_hash = embeddings.text_hash)", (digests,))
            if profile.keywords and not self._keywords_used(db, profile):
                db.execute("DELETE FROM embeddings WHERE text_hash = %s", (text_hash(profile.keyword_text),))
            db.execute("INSERT INTO changes(seq, profile_id) VALUES (%s, %s)", (generation, profile_id))
            _set_generation(db, generation)
        return generation

    def _keywords_used(self, db: Any, profile: Profile) -> bool:
        needle = json.dumps(list(profile.keywords), ensure_ascii=False)
        for (data,) in db.execute("SELECT data FROM profiles WHERE strpos(data, %s) > 0", (needle,)):
            if parse_profile(json.loads(data)).keyword_text == profile.keyword_text:
                return True
        return False

    def listing(self, values: Iterable[str]) -> list[Profile]:
        """Profiles whose works list any of `values` (ids or names) among their co-authors."""
        wanted = set(values)
        found: dict[str, Profile] = {}
        for value in wanted:
            needle = json.dumps(value, ensure_ascii=False)
            for (data,) in self._read().execute("SELECT data FROM profiles WHERE strpos(data, %s) > 0", (needle,)):
                profile = parse_profile(json.loads(data))
                if profile.coauthors & wanted:
                    found[profile.id] = profile
        return [found[pid] for pid in sorted(found)]

    def checkpoint(self) -> bool:
        """After an erasure: VACUUM the tables that held the profile, so its dead rows' space is
        reclaimed (PostgreSQL keeps deleted rows until a vacuum; the server's own WAL and backups
        are the operator's to rotate, see docs/DEPLOY.md)."""
        with self._lock:
            self._db.execute("VACUUM profiles, works, embeddings, changes")
        return True

    @contextmanager
    def reader(self) -> Iterator[PostgresReader]:
        """A consistent read-only view (one REPEATABLE READ transaction on a connection of its own)."""
        with self._lock:
            db = self._idle_readers.pop() if self._idle_readers else None
        if db is None or db.closed:
            db = connect(self.url)
            with self._lock:
                self._connections.append(db)
        try:
            db.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield PostgresReader(db)
            db.execute("COMMIT")
        finally:
            if not db.closed and db.info.transaction_status != 0:  # not idle: a failure inside the view
                try:
                    db.execute("ROLLBACK")
                except Exception:  # the connection broke: it is not kept
                    db.close()
            with self._lock:
                if not db.closed:
                    self._idle_readers.append(db)

    def count_changed_since(self, generation: int) -> int:
        row = self._read().execute("SELECT count(DISTINCT profile_id) FROM changes WHERE seq > %s", (generation,))
        return int(row.fetchone()[0])

    def prune_changes(self, through: int) -> None:
        """Forget changes up to `through` that are older than `change_retention_s` (other
        processes, whose snapshots this one does not see, may still need the younger ones)."""
        with self._changing() as db:
            done = int(db.execute("SELECT pruned_through FROM generation FOR UPDATE").fetchone()[0])
            if self.change_retention_s > 0:
                row = db.execute("SELECT min(seq) - 1 FROM changes WHERE at > now() - make_interval(secs => %s)",
                                 (self.change_retention_s,)).fetchone()
                if row[0] is not None:
                    through = min(through, int(row[0]))
            if through > done:
                db.execute("DELETE FROM changes WHERE seq <= %s", (through,))
                db.execute("UPDATE generation SET pruned_through = %s", (through,))

    def listen(self, stop: threading.Event, changed: Callable[[int], None], *, timeout: float = 1.0) -> None:
        """Call `changed(generation)` for every commit that changed profiles, from any process
        (LISTEN on `CHANNEL`), until `stop` is set. Runs in the caller's thread, on a connection
        of its own; a lost connection is opened again."""
        while not stop.is_set():
            try:
                with connect(self.url) as db:
                    db.execute(f"LISTEN {CHANNEL}")
                    while not stop.is_set():
                        for note in db.notifies(timeout=timeout):
                            changed(int(note.payload))
            except Exception as err:  # the server restarted, the network dropped: listen again
                log.warning("listening for changes failed (%s); again in %.0f s", err, timeout)
                stop.wait(timeout)

    # -- embedding cache ------------------------------------------------------------------------

    def cached_vectors(self, model_id: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        rows = self._read().execute("SELECT text_hash, vector FROM embeddings WHERE model_id = %s "
                                    "AND text_hash = ANY(%s)", (model_id, list(hashes)))
        return {str(digest): np.frombuffer(blob, dtype=np.float32) for digest, blob in rows}

    def cached_hashes(self, model_id: str, hashes: Sequence[str]) -> set[str]:
        rows = self._read().execute("SELECT text_hash FROM embeddings WHERE model_id = %s AND text_hash = ANY(%s)",
                                    (model_id, list(hashes)))
        return {str(digest) for (digest,) in rows}

    def put_vectors(self, model_id: str, hashes: Sequence[str], vectors: np.ndarray) -> None:
        rows = [(model_id, digest, np.ascontiguousarray(vec, dtype=np.float32).tobytes())
                for digest, vec in zip(hashes, vectors, strict=True)]
        with self._changing() as db, db.cursor() as cursor:
            cursor.executemany("INSERT INTO embeddings VALUES (%s, %s, %s) ON CONFLICT (model_id, text_hash) "
                               "DO UPDATE SET vector = EXCLUDED.vector", rows)

    def cache_size(self, model_id: str) -> int:
        row = self._read().execute("SELECT count(*) FROM embeddings WHERE model_id = %s", (model_id,)).fetchone()
        return int(row[0])

    # -- shared access for the store's other tables (keys, audit, jobs) ---------------------------

    def execute(self, sql: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]:
        """One writing statement (its own transaction), `?` placeholders; every row it returns."""
        with self._changing() as db:
            cursor = db.execute(_placeholders(sql), params)
            return cursor.fetchall() if cursor.description else []

    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]:
        """One reading statement, `?` placeholders."""
        return self._read().execute(_placeholders(sql), params).fetchall()

    def executemany(self, sql: str, rows: Iterable[Sequence[object]]) -> None:
        with self._changing() as db, db.cursor() as cursor:
            cursor.executemany(_placeholders(sql), list(rows))

    def ensure_schema(self, ddl: str) -> None:
        """The tables a repository's (SQLite) DDL names must exist: in PostgreSQL every table
        comes from the versioned migrations (`matcher.store.postgres_schema`)."""
        names = _TABLE.findall(ddl)
        rows = self._read().execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                                    "AND tablename = ANY(%s)", (names,))
        missing = sorted(set(names) - {str(name) for (name,) in rows})
        if missing:
            raise MatcherError(f"the PostgreSQL store lacks the tables {', '.join(missing)}: "
                               "they need a migration step in matcher/store/postgres_schema.py")

    def shared_secret(self, name: str) -> bytes:
        """A random 32-byte secret every process on this database shares (the web session
        signing key), made by whichever asks first."""
        db, key = self._read(), f"secret:{name}"
        db.execute("INSERT INTO meta VALUES (%s, %s) ON CONFLICT (key) DO NOTHING", (key, secrets.token_hex(32)))
        return bytes.fromhex(str(db.execute("SELECT value FROM meta WHERE key = %s", (key,)).fetchone()[0]))

    def connection(self) -> Any:
        """This thread's own connection, in autocommit mode: each statement is its own transaction
        (for one-statement updates that must not wait for the writing connection)."""
        return self._read()

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """The writing connection in one transaction (for the store's own modules: rate buckets,
        job claims, bulk copies)."""
        with self._changing() as db:
            yield db

    # -- internals ------------------------------------------------------------------------------

    @contextmanager
    def _changing(self) -> Iterator[Any]:
        """The writing connection in one transaction; a full disk reported as `StoreFull`. A
        connection the server dropped (a restart, a failover) is opened again for the next write."""
        with self._lock:
            if self._db.closed:
                self._db = connect(self.url)
                self._connections.append(self._db)
            with self.space.writing(), self._db.transaction():
                yield self._db


def _lock_generation(db: Any) -> int:
    """Take the generation lock (until the transaction ends); the last change's number."""
    return int(db.execute("SELECT value FROM generation FOR UPDATE").fetchone()[0])


def _set_generation(db: Any, generation: int) -> None:
    db.execute("UPDATE generation SET value = %s", (generation,))
    db.execute("SELECT pg_notify(%s, %s)", (CHANNEL, str(generation)))


def _placeholders(sql: str) -> str:
    """SQLite-style `?` placeholders as psycopg's `%s` (a literal % doubled)."""
    return sql.replace("%", "%%").replace("?", "%s")


class PostgresReader:
    """The store as of one moment (see `Store.reader`)."""

    def __init__(self, db: Any):
        self._db = db

    def generation(self) -> int:
        return int(self._db.execute("SELECT value FROM generation").fetchone()[0])

    def count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM profiles").fetchone()[0])

    def store_id(self) -> str:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'store_id'").fetchone()
        return "" if row is None else str(row[0])

    def pruned_through(self) -> int:
        return int(self._db.execute("SELECT pruned_through FROM generation").fetchone()[0])

    def profiles(self, batch: int = 1000) -> Iterator[Profile]:
        with self._db.cursor(name="profiles_in_order") as cursor:
            cursor.itersize = batch
            cursor.execute("SELECT data FROM profiles ORDER BY id")
            for (data,) in cursor:
                yield parse_profile(json.loads(data))

    def changed_since(self, generation: int) -> list[tuple[str, int]]:
        rows = self._db.execute("SELECT profile_id, max(seq) FROM changes WHERE seq > %s "
                                "GROUP BY profile_id ORDER BY 2", (generation,))
        return [(str(pid), int(seq)) for pid, seq in rows]

    def changes(self, changed: Sequence[tuple[str, int]]) -> list[Change]:
        rows = self._db.execute("SELECT id, data FROM profiles WHERE id = ANY(%s)", ([pid for pid, _ in changed],))
        found = {str(pid): parse_profile(json.loads(data)) for pid, data in rows}
        return [Change(pid, version, found.get(pid)) for pid, version in changed]
