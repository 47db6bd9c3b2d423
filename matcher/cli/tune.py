"""`matcher tune`: fine-tune the sentence model on the pool's own history, into a local model folder."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Optional

import typer

from matcher.cli.common import HomeOption, examples, fail
from matcher.domain.errors import MatcherError

__all__ = ["tune"]


def tune(
    out: Annotated[
        Optional[Path], typer.Option("--out", help="Folder for the tuned model (default: models/tuned-DATE-TIME).")
    ] = None,
    max_pairs: Annotated[int, typer.Option("--max-pairs", min=64, help="Training pairs at most, drawn evenly from "
                                           "the three kinds.")] = 20_000,
    epochs: Annotated[int, typer.Option("--epochs", min=1, max=20, help="Passes over the pairs.")] = 1,
    layers: Annotated[int, typer.Option("--layers", min=1, max=48, help="Top transformer layers trained (the rest "
                                        "stay frozen, which keeps CPU training fast).")] = 2,
    learning_rate: Annotated[float, typer.Option("--learning-rate", min=1e-7, max=1e-2)] = 1e-4,
    batch_size: Annotated[int, typer.Option("--batch-size", min=2, max=512, help="Pairs per batch (each pair's "
                                            "partner must be found among all the batch's texts).")] = 32,
    as_json: Annotated[bool, typer.Option("--json", help="Print the training report as JSON.")] = False,
    home: HomeOption = None,
) -> None:
    """Fine-tune the embedding model on pairs the store already holds: two works of one profile, a
    work each of two profiles that worked together, and a work's title with its abstract
    (MultipleNegativesRankingLoss, on the CPU, with a progress bar; about 10-20 minutes for 20,000
    pairs on 2 cores). Starts from MATCHER_MODEL_PATH if set, else the packaged all-MiniLM-L6-v2.

    The tuned model is an ordinary sentence-transformers folder: use it with
    MATCHER_MODEL_PATH=<folder> (every backend, the int8 export included). The store caches vectors
    per model, so the first command with the new model embeds the pool again. Check that it pays
    on your data first: `matcher eval consortia --tune` trains on the history before the cut only and
    reports both models side by side.
    """
    import torch

    from matcher.embed.backends import default_models_dir, usable_cpus
    from matcher.embed.sentence import packaged_model_path
    from matcher.embed.tuning import TuneConfig, training_pairs, tune_model
    from matcher.service.bootstrap import open_store
    from matcher.service.config import load_config

    try:
        config = load_config(home=home)
        store = open_store(config)  # SQLite in MATCHER_HOME, or the PostgreSQL store MATCHER_STORE names
        try:
            profiles = store.profiles()
        finally:
            store.close()
        if not profiles:
            raise MatcherError(f"the store in {config.home} has no profiles to learn from (matcher ingest first)")
        target = out or default_models_dir() / f"tuned-{datetime.now(UTC):%Y%m%d-%H%M}"
        if target.exists() and any(target.iterdir()):
            raise MatcherError(f"{target} exists and is not empty; choose another --out")
        pairs = training_pairs(profiles, max_pairs=max_pairs)
        typer.echo(f"{len(profiles)} profiles: " + ", ".join(f"{len(v)} {k.replace('_', '/')} pairs"
                                                             for k, v in pairs.items()), err=True)
        threads = torch.get_num_threads()
        torch.set_num_threads(config.threads or usable_cpus())
        try:
            report = tune_model(
                config.model_path or packaged_model_path(), pairs, target,
                TuneConfig(max_pairs=max_pairs, epochs=epochs, trainable_layers=layers, learning_rate=learning_rate,
                           batch_size=batch_size),
            )
        finally:
            torch.set_num_threads(threads)
    except MatcherError as err:
        fail(err)
    except KeyboardInterrupt:
        fail("interrupted; nothing was written", code=130)
    if as_json:
        typer.echo(json.dumps({"model": str(target), **report.__dict__}, indent=2))
        return
    typer.echo(f"tuned in {report.seconds:.0f} s ({report.pairs_per_s:.1f} pairs/s), loss {report.loss_first:.3f} "
               f"-> {report.loss_last:.3f}", err=True)
    typer.echo(f"model: {target}")
    typer.echo(f"use it: MATCHER_MODEL_PATH={target} matcher serve   (the pool is embedded again on first use)")


TUNE_EPILOG = examples(
    "matcher tune",
    "matcher tune --max-pairs 5000 --out models/tuned-small",
    "MATCHER_MODEL_PATH=models/tuned-small matcher match --text 'hydrogen storage'",
    "matcher eval consortia --projects projects.csv --tune   # does tuning pay on your history?",
)
