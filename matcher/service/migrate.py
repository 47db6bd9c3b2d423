"""`matcher migrate`: a SQLite store (MATCHER_HOME) copied into PostgreSQL (see `matcher.store.transfer`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from matcher.domain.errors import MatcherError
from matcher.store.postgres import PostgresStore, is_postgres_url, redact
from matcher.store.sqlite import SqliteStore
from matcher.store.transfer import Copied, copy_store, source_counts

__all__ = ["Copied", "migrate_store", "rows_to_copy"]


def _source(home: Path) -> SqliteStore:
    if not (home / "matcher.sqlite3").exists():
        raise MatcherError(f"no SQLite store in {home} (set MATCHER_HOME or --home to the folder holding "
                           "matcher.sqlite3)")
    return SqliteStore(home)


def rows_to_copy(home: Path) -> int:
    """How many rows the copy reads (for a progress bar)."""
    source = _source(home)
    try:
        return sum(source_counts(source).values())
    finally:
        source.close()


def migrate_store(
    home: Path, url: str, *, batch: int = 2000, progress: Callable[[str, int], None] | None = None
) -> dict[str, Copied]:
    """Copy the SQLite store in `home` into the PostgreSQL database at `url`; counts per table.
    Rows whose key is already there are skipped, so a rerun copies only what is missing."""
    if not is_postgres_url(url):
        raise MatcherError(f"--to '{redact(url)}' is not a postgresql:// URL")
    source = _source(home)
    try:
        target = PostgresStore(url, home)
        try:
            return copy_store(source, target, batch=batch, progress=progress)
        finally:
            target.close()
    finally:
        source.close()
