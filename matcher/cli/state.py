"""`matcher state`: look at the matching state's snapshot and fold the writes since into a new one."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from matcher.cli.common import HomeOption, examples, fail, services
from matcher.domain.errors import MatcherError
from matcher.index.state import merge

__all__ = ["state_app"]

state_app = typer.Typer(
    help="The matching state: a snapshot beside the store (vectors, lexical index, per-row fields) plus the "
    "profiles written since. Servers and one-shot commands load it instead of rebuilding; merges keep it small.",
    no_args_is_help=True,
    epilog=examples("matcher state status", "matcher state status --json", "matcher state merge --refit"),
)


@state_app.command("status", epilog=examples("matcher state status", "matcher state status --json"))
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
    home: HomeOption = None,
) -> None:
    """Which snapshot is current, how far behind the store it is, and whether a merge is due."""
    try:
        engine = services(home, progress=False).engine
        corpus = engine.corpus()
    except MatcherError as err:
        fail(err)
    info = engine.state.snapshot
    due, refit = engine.state.merge_due()
    report = {
        "snapshot": info.name if info else None,
        "snapshot_generation": info.generation if info else None,
        "store_generation": engine.store.generation(),
        "model": engine.embedder.model_id,
        "kernel_of_snapshot": info.kernel if info else None,
        "profiles": corpus.n_active,
        "base_rows": len(corpus.base),
        "delta_rows": len(corpus.delta),
        "tombstones": int(len(corpus) - corpus.n_active),
        "merge_due": due,
        "refit_due": refit,
    }
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    for key, value in report.items():
        typer.echo(f"{key:20} {value}")


@state_app.command("merge", epilog=examples("matcher state merge", "matcher state merge --refit"))
def merge_command(
    refit: Annotated[bool, typer.Option("--refit", help="Also refit the lexical model on the whole pool.")] = False,
    home: HomeOption = None,
) -> None:
    """Fold every write since the snapshot into a new one now (a running server swaps to it within
    seconds). Merges also happen by themselves; this is for scripts and maintenance windows.
    """
    try:
        engine = services(home).engine
        info = merge(engine.store, engine.embedder, index=engine.config.index, index_url=engine.config.index_url,
                     refit=refit)
    except MatcherError as err:
        fail(err)
    if info is None:
        typer.echo("the store is empty: no snapshot")
        return
    typer.echo(f"snapshot {info.name}: {info.rows} profiles, {info.works} works, generation {info.generation}")
