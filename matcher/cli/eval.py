"""`matcher eval`: measure match quality; tables to stdout, JSON with --json or to --out."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from matcher.cli.common import examples, fail, services
from matcher.domain.errors import MatcherError
from matcher.service.engine import Engine
from matcher.store.atomic import write_text_atomic

__all__ = ["eval_app"]

eval_app = typer.Typer(
    help="Measure match quality on real consortia, expertise judgments, or the demo's planted structure.\n\n"
    "Embeddings are cached in the store (MATCHER_HOME), so a re-run with other knobs does not re-embed.",
    no_args_is_help=True,
    epilog=examples("matcher eval synthetic --json",
                    "matcher eval consortia --projects projects.csv --cut 2017-01-01 --until 2018-01-01",
                    "matcher eval expertise --profiles people.jsonl --judgments ratings.csv --sweep"),
)

Out = Annotated[Optional[Path], typer.Option("--out", help="Also write the figures as JSON to this file.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
Sweep = Annotated[
    bool, typer.Option("--sweep", help="Score every variant of docs/EVALUATION.md, not just the default.")
]
Home = Annotated[Optional[Path], typer.Option("--home", help="Store folder for the embedding cache.")]


def _variants(engine: Engine, sweep: bool) -> dict[str, Any]:
    from matcher.evaluation.runner import sweep_variants

    return sweep_variants(engine.config.scoring) if sweep else {"shipped default": engine.config.scoring}


def _finish(report: dict[str, Any], as_json: bool, out: Path | None, columns: list[tuple[str, str]]) -> None:
    if out is not None:
        write_text_atomic(out, json.dumps(report, indent=2) + "\n")
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    header = f"{'variant':<34}" + "".join(f"{label:>16}" for label, _ in columns)
    typer.echo(header)
    for name, figures in report["variants"].items():
        cells = []
        for _, path in columns:
            value: Any = figures
            for key in path.split("/"):
                value = value.get(key, float("nan")) if isinstance(value, dict) else float("nan")
            cells.append(f"{value:>16.4f}" if isinstance(value, float) else f"{value!s:>16}")
        typer.echo(f"{name:<34}" + "".join(cells))


def _date(value: str, flag: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"'{value}' is not a date like 2017-01-01", param_hint=flag) from None


@eval_app.command(epilog=examples(
    "matcher eval consortia --projects projects-2014-2017.csv --cut 2017-01-01 --until 2018-01-01",
    "matcher eval consortia --projects projects.csv --sweep --out consortia.json",
    "matcher eval consortia --projects projects.csv --cut 2017-01-01 --until 2018-01-01 --tune",
    "matcher eval consortia --projects cordis-export/ --cut 2023-01-01 --sweep",
))
def consortia(
    projects: Annotated[Path, typer.Option("--projects", help="CORDIS-style project CSV (id, title, objective, "
                                           "startDate, coordinator, coordinatorCountry, participants), or a "
                                           "CORDIS export (the folder of project.csv and organization.csv, whose "
                                           "activityType gives each organisation's role).")],
    cut: Annotated[
        str, typer.Option("--cut", help="Profiles from projects before this date; queries after.")
    ] = "2017-01-01",
    until: Annotated[Optional[str], typer.Option("--until", help="Queries start before this date.")] = None,
    sweep: Sweep = False,
    tune: Annotated[bool, typer.Option("--tune", help="Also tune the model on the history before the cut (as "
                                       "`matcher tune` does) and score every variant with it, and with it and the "
                                       "shipped model averaged (the quality mode). The tuned model is kept under "
                                       "models/eval-tuned-* and reused.")] = False,
    tune_pairs: Annotated[int, typer.Option("--tune-pairs", min=64, help="With --tune: training pairs at most.")
                          ] = 20_000,
    tune_learning_rate: Annotated[float, typer.Option("--tune-learning-rate", min=1e-7, max=1e-2,
                                                      help="With --tune: the learning rate.")] = 1e-4,
    as_json: AsJson = False,
    out: Out = None,
    home: Home = None,
) -> None:
    """Recall@10/50, MRR and nDCG@10 of real consortia, for 'idea' and 'coordinator + idea' queries;
    and the price of the fairness option (matcher batch --fair): the idea queries as one top-10
    batch, plain and capped, Recall@10 beside the Gini of exposure. A table without CORDIS's
    activityType gets each organisation's role guessed from its legal name (for the role variants
    of --sweep).
    """
    from matcher.embed.tuning import TuneConfig
    from matcher.evaluation.runner import consortia_report

    try:
        engine = services(home).engine
        report = consortia_report(
            engine, projects, _date(cut, "--cut"), _date(until, "--until") if until else None,
            _variants(engine, sweep),
            tune=TuneConfig(max_pairs=tune_pairs, learning_rate=tune_learning_rate) if tune else None,
            diversities=(engine.config.diversity,) if sweep and engine.config.diversity else (),
        )
    except MatcherError as err:
        fail(err)
    typer.echo(f"{report['split']['organisations']} organisations, {report['split']['queries']} queries", err=True)
    fairness, k = report["fairness"], report["fairness"]["k"]
    runs = [f"{name}: R@{k} {f[f'recall@{k}']:.3f}, Gini {f['gini']:.3f}" for name, f in fairness.items()
            if isinstance(f, dict)]
    typer.echo(f"fairness option (matcher batch --fair), the idea lists as one batch: {'; '.join(runs)}", err=True)
    metrics = ("recall@10", "recall@50", "mrr", "ndcg@10")
    _finish(report, as_json, out, [
        *((f"idea {m}", f"idea/{m}") for m in metrics),
        *((f"coord {m}", f"coordinator_idea/{m}") for m in metrics),
        ("idea n", "idea/queries"), ("coord n", "coordinator_idea/queries"),
    ])


@eval_app.command(epilog=examples(
    "matcher eval expertise --profiles people.jsonl --judgments ratings.csv",
    "matcher eval expertise --profiles people.jsonl --judgments ratings.csv --sweep --json",
))
def expertise(
    profiles: Annotated[Path, typer.Option("--profiles", help="Profiles of the people who rated (JSONL or CSV).")],
    judgments: Annotated[Path, typer.Option("--judgments", help="CSV: profile_id, text_id, text, rating.")],
    sweep: Sweep = False,
    as_json: AsJson = False,
    out: Out = None,
    home: Home = None,
) -> None:
    """Does the score order texts the way people rate their own expertise? (loss of Stelmakh et al. 2023)

    Every wrongly ordered pair of rated texts costs the rating difference, a tie half of it; the sum
    is divided by the sum of all rating differences. 0 is perfect, 0.5 a constant scorer.
    """
    from matcher.evaluation.runner import expertise_report

    try:
        engine = services(home).engine
        report = expertise_report(engine, profiles, judgments, _variants(engine, sweep))
    except MatcherError as err:
        fail(err)
    _finish(report, as_json, out, [("loss", "loss"), ("correct pairs", "correct_pairs"), ("pairs", "pairs")])


@eval_app.command(epilog=examples("matcher eval synthetic", "matcher eval synthetic --queries 50 --json",
                                  "matcher eval synthetic --sweep --out synthetic.json"))
def synthetic(
    queries: Annotated[int, typer.Option("--queries", min=1, help="How many requesters to sample.")] = 200,
    sweep: Sweep = False,
    as_json: AsJson = False,
    out: Out = None,
    home: Home = None,
) -> None:
    """Field precision@10 on the demo generator's planted topic mixtures (by profile and by text)."""
    from matcher.evaluation.synthetic import synthetic_report

    engine = services(home).engine
    report = synthetic_report(engine, _variants(engine, sweep), queries=queries)
    _finish(report, as_json, out, [("by id", "field_precision@10_by_id"), ("by text", "field_precision@10_by_text")])
