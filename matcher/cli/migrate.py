"""`matcher migrate`: copy the SQLite store into PostgreSQL."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from tqdm import tqdm

from matcher.cli.common import HomeOption, examples, fail
from matcher.domain.errors import MatcherError
from matcher.service.config import load_config
from matcher.service.migrate import migrate_store, rows_to_copy

__all__ = ["EPILOG", "migrate"]

EPILOG = examples(
    "matcher migrate --to postgresql://matcher:secret@db.internal/matcher",
    "matcher migrate --home /srv/matcher --to 'postgresql://matcher@/matcher?host=/run/postgresql'",
    "matcher migrate --to $MATCHER_STORE --json   # counts as JSON",
)


def migrate(
    to: Annotated[str, typer.Option("--to", help="The PostgreSQL database: a postgresql:// URL (its schema is made "
                                    "or brought up to date first; the pgvector extension is not needed for this).")],
    home: HomeOption = None,
    batch: Annotated[int, typer.Option("--batch", min=1, max=100_000, help="Rows per batch.")] = 2000,
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
) -> None:
    """Copy the SQLite store (MATCHER_HOME or --home) into PostgreSQL, then set MATCHER_STORE to it.

    Copies profiles and works, the embedding cache (nothing is embedded again), API keys, batch
    jobs and the audit trail, in batches, with a progress bar; prints rows copied and skipped per
    table. Safe to rerun: a row whose key (profile id, key id, job id, ...) is already in
    PostgreSQL is skipped and left as it is there, so a rerun after an interruption copies only
    what is missing. The SQLite store is only read. Batch result files and agendas stay in the
    store folder; the matching state is rebuilt from the rows by the first process that opens
    the PostgreSQL store.
    """
    home_dir = load_config(home=home).home
    bars: list[tqdm] = []  # made at the first batch: a refused URL or an unreachable database prints no bar

    def advance(table: str, rows: int) -> None:
        if not bars:
            bars.append(tqdm(total=total, desc="migrate", unit="row", file=sys.stderr, leave=False))
        bars[0].set_postfix_str(table, refresh=False)
        bars[0].update(rows)

    try:
        total = rows_to_copy(home_dir)
        report = migrate_store(home_dir, to, batch=batch, progress=advance)
    except MatcherError as err:
        fail(err)
    finally:
        for bar in bars:
            bar.close()
    if as_json:
        typer.echo(json.dumps({name: vars(counts) for name, counts in report.items()}, indent=2))
        return
    typer.echo(f"{'table':<14} {'source':>9} {'copied':>9} {'skipped':>9}")
    for name, counts in report.items():
        typer.echo(f"{name:<14} {counts.source:>9} {counts.copied:>9} {counts.skipped:>9}")
