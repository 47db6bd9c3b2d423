"""Copying a SQLite store into a PostgreSQL one (`matcher migrate`), in batches, safely rerun.

Profiles go through the PostgreSQL store's own write path (`upsert`), so they get change numbers
there; the other tables (the embedding cache, keys, jobs and their holders, the audit trail) are
streamed in key order and bulk-loaded with COPY into a temporary table, then inserted with
`ON CONFLICT DO NOTHING`. A row whose key is already in PostgreSQL is skipped, whatever it holds:
rerunning after an interruption copies only what is missing and changes nothing else. The change
log is not copied (PostgreSQL numbers its own changes), nor the matching state's snapshots (each
process builds its own from the rows, with the cached vectors, so nothing is embedded again).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from matcher.domain.profiles import parse_profile
from matcher.store.postgres import PostgresStore
from matcher.store.sqlite import SqliteStore

__all__ = ["TABLES", "Copied", "copy_store", "source_counts"]


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]


TABLES = (
    Table("profiles", ("id", "data"), ("id",)),
    Table("embeddings", ("model_id", "text_hash", "vector"), ("model_id", "text_hash")),
    Table("api_keys", ("key_id", "digest", "scope", "owner", "label", "created_at", "revoked"), ("key_id",)),
    Table("batch_jobs", ("id", "status", "done", "total", "request", "summary", "error", "key_id", "created_at",
                         "finished_at"), ("id",)),
    Table("batch_holders", ("profile_id", "job_id"), ("profile_id", "job_id")),
    Table("audit", ("id", "at", "key_id", "scope", "action", "target", "detail"), ("id",)),
)


@dataclass
class Copied:
    """Per table: rows found in the source, copied, and skipped (their key was already there)."""

    source: int = 0
    copied: int = 0
    skipped: int = 0


def _exists(source: SqliteStore, table: str) -> bool:
    return bool(source.query("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (table,)))


def source_counts(source: SqliteStore) -> dict[str, int]:
    """How many rows each copied table holds in the source (0 for a table it never made)."""
    counts = {}
    for table in TABLES:
        found = source.query(f"SELECT count(*) FROM {table.name}")[0][0] if _exists(source, table.name) else 0
        counts[table.name] = found if isinstance(found, int) else 0
    return counts


def _batches(source: SqliteStore, table: Table, size: int) -> Iterator[list[tuple[object, ...]]]:
    """The table's rows in key order, `size` at a time (keyset paging: each batch one short read)."""
    columns = ", ".join(table.columns)
    keys = ", ".join(table.key)
    last: Sequence[object] | None = None
    while True:
        if last is None:
            rows = source.query(f"SELECT {columns} FROM {table.name} ORDER BY {keys} LIMIT ?", (size,))
        else:
            marks = ", ".join("?" * len(table.key))
            rows = source.query(f"SELECT {columns} FROM {table.name} WHERE ({keys}) > ({marks}) "
                                f"ORDER BY {keys} LIMIT ?", (*last, size))
        if not rows:
            return
        yield rows
        last = [rows[-1][table.columns.index(k)] for k in table.key]


def _copy_rows(target: PostgresStore, table: Table, rows: list[tuple[object, ...]]) -> int:
    """COPY the rows into a temporary table, insert those whose key is new; how many were new."""
    columns = ", ".join(table.columns)
    with target.transaction() as db:
        db.execute(f"CREATE TEMP TABLE incoming (LIKE {table.name}) ON COMMIT DROP")
        with db.cursor() as cursor:
            with cursor.copy(f"COPY incoming ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute(f"INSERT INTO {table.name} ({columns}) SELECT {columns} FROM incoming "
                           "ON CONFLICT DO NOTHING")
            return max(cursor.rowcount, 0)


def _copy_profiles(target: PostgresStore, rows: list[tuple[object, ...]]) -> int:
    there = target.content_hashes([str(pid) for pid, _ in rows])
    fresh = [parse_profile(json.loads(str(data))) for pid, data in rows if pid not in there]
    return target.upsert(fresh).added if fresh else 0


def copy_store(
    source: SqliteStore,
    target: PostgresStore,
    *,
    batch: int = 2000,
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, Copied]:
    """Copy every table of `source` into `target` (see the module); counts per table.
    `progress(table, rows)` is called after each batch."""
    totals = source_counts(source)
    report: dict[str, Copied] = {}
    for table in TABLES:
        done = Copied(source=totals[table.name])
        report[table.name] = done
        if not done.source:
            continue
        for rows in _batches(source, table, batch):
            copied = _copy_profiles(target, rows) if table.name == "profiles" else \
                _copy_rows(target, table, rows)
            done.copied += copied
            done.skipped += len(rows) - copied
            if progress is not None:
                progress(table.name, len(rows))
    if report["audit"].copied:  # new audit rows are numbered after the copied ones
        with target.transaction() as db:
            db.execute("SELECT setval(pg_get_serial_sequence('audit', 'id'), (SELECT max(id) FROM audit))")
    return report
