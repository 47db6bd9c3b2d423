"""`matcher batch`: match a whole applicant pool at once and export the result."""

from __future__ import annotations

import json
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Optional

import typer
from tqdm import tqdm

from matcher.assign.programme import MODES, build_request, parse_memory, run_batch
from matcher.cli.common import HomeOption, examples, fail, services
from matcher.domain.errors import MatcherError
from matcher.export.results import write_result
from matcher.service.cluster import dask_client, parse_dask

__all__ = ["EPILOG", "batch"]

EPILOG = examples(
    "matcher batch --mode topk --k 5 --out out/",
    "matcher batch --mode pairs --dask local --out out/      # a worker per CPU",
    "matcher batch --k 10 --dask local:4 --out out/          # 4 worker processes",
    "matcher batch --k 10 --dask tcp://10.0.0.5:8786 --out out/   # a running cluster",
)


DASK_HELP = ("Compute the top-k on a Dask cluster: local (one worker process per CPU), local:N (N processes) or "
             "tcp://HOST:PORT (a running scheduler; its workers need this package). Same result as without.")


def batch(
    out: Annotated[
        Path, typer.Option("--out", help="Folder for pairs.csv, pairs.parquet, pairs.xlsx, unmatched.csv, report.html.")
    ],
    mode: Annotated[str, typer.Option("--mode", help=f"One of {', '.join(MODES)}.")] = "topk",
    pool: Annotated[Optional[Path], typer.Option("--pool", help="A profile file (JSONL or CSV): ingested, then matched "
                                                  "among themselves. Default: the whole store.")] = None,
    pool_countries: Annotated[
        Optional[list[str]], typer.Option("--pool-countries", help="Only applicants from these countries or groups.")
    ] = None,
    exclude_countries: Annotated[
        Optional[list[str]], typer.Option("--exclude-countries", help="Leave out these countries or groups.")
    ] = None,
    k: Annotated[int, typer.Option("--k", min=1, max=100, help="topk: partners per applicant.")] = 5,
    capacity: Annotated[
        Optional[int], typer.Option("--capacity", min=1, help="pairs/bipartite: partners per applicant for everyone "
                                    "(default: each profile's own capacity, else 3).")
    ] = None,
    sides: Annotated[
        Optional[list[str]], typer.Option("--sides", help="bipartite: the two sides, each a country list or group, "
                                          "given twice: --sides TR --sides DE,FR.")
    ] = None,
    min_score: Annotated[
        Optional[float], typer.Option("--min-score", min=0.0, max=1.0, help="pairs/bipartite: pair only partners of "
                                      "at least this strength (0-1; strong from 0.75, good from 0.5); the others are "
                                      "listed as unmatched with the reason.")
    ] = None,
    fair: Annotated[
        bool, typer.Option("--fair", help="topk: spread exposure: nobody is suggested more than 1.5 x as often as the "
                           "average person (unless a list cannot be filled otherwise); lists are filled from each "
                           "applicant's 4k best candidates instead. The "
                           "report shows exposure per country either way.")
    ] = False,
    exposure_cap: Annotated[
        Optional[int], typer.Option("--exposure-cap", min=1, help="topk: suggestions per person at most (implies "
                                    "--fair).")
    ] = None,
    prefer_countries: Annotated[
        Optional[list[str]], typer.Option("--prefer-countries", help="topk: prefer partners from these countries or "
                                          "groups, e.g. widening, low-income (implies --fair).")
    ] = None,
    prefer_weight: Annotated[
        float, typer.Option("--prefer-weight", min=0.0, max=1.0, help="The score bonus of preferred countries when "
                            "lists are filled (reported scores stay the plain similarities).")
    ] = 0.05,
    same_country: Annotated[bool, typer.Option("--same-country", help="Allow pairs within one country.")] = False,
    allow_conflicts: Annotated[
        bool, typer.Option("--allow-conflicts", help="Allow co-authors and colleagues to be paired.")
    ] = False,
    memory: Annotated[
        str, typer.Option("--memory", help="Memory budget for the score blocks, e.g. 512M, 2G.")
    ] = "512M",
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary and file paths as JSON.")] = False,
    dask: Annotated[Optional[str], typer.Option("--dask", metavar="WHERE", help=DASK_HELP)] = None,
    home: HomeOption = None,
) -> None:
    """Match a whole applicant pool at once: every applicant's k best partners abroad (topk), one global
    pairing within capacities (pairs: greedy 1/2-approximation plus improving swaps), or an exact
    two-sided assignment (bipartite: min-cost flow). All-pairs scores are computed in blocks within
    --memory; the full N x N matrix never exists. Writes CSV, Parquet, XLSX (both sides' names,
    countries, institutions, the score and what the pair rests on) and an HTML report (the run, who
    meets whom, the figures); applicants left short are listed with the reason. Every pair carries
    its strength (0-1, the scale of `matcher match`); --min-score leaves out partners below it ("no
    partner with strength >= 0.4"). Fair exposure (topk): plain top-k hands most suggestions to a few
    central "stars"; --fair caps how often one person is suggested, and --prefer-countries lifts
    partners from under-connected countries. The report shows the Gini of exposure and each
    country's share of the pool against its share of the suggestions.

    --dask spreads the score blocks over a Dask cluster (see the examples below); the files are the same.

    Examples: matcher batch --mode topk --k 5 --out out/
              matcher batch --mode topk --k 5 --fair --prefer-countries widening,low-income --out out/
    """
    try:
        cluster = None if dask is None else parse_dask(dask)
    except MatcherError as err:
        fail(err, 2)
    rejected = 0
    try:
        engine = services(home).engine
        ids: tuple[str, ...] = ()
        if pool is not None:
            from matcher.ingest.readers import read_profiles

            read = read_profiles(pool)
            for rejection in read.rejected:
                typer.echo(f"rejected {rejection}", err=True)
            rejected = len(read.rejected)
            engine.add([p for _, p in read.profiles])
            ids = tuple(p.id for _, p in read.profiles)
        request = build_request(
            mode, k=k, capacity=capacity, pool=ids, pool_countries=tuple(pool_countries or ()),
            exclude_countries=tuple(exclude_countries or ()), sides=tuple(sides or ()),
            cross_border=not same_country, exclude_conflicts=not allow_conflicts, memory_bytes=parse_memory(memory),
            min_score=min_score, fair=fair, exposure_cap=exposure_cap,
            prefer_countries=tuple(prefer_countries or ()), prefer_weight=prefer_weight,
        )
        corpus = engine.corpus()
        with nullcontext() if cluster is None else dask_client(cluster) as client, \
                tqdm(desc=f"batch {mode}", unit="block", file=sys.stderr, leave=False) as bar:
            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.n = done
                bar.refresh()

            result = run_batch(corpus, request, progress, client=client)
        paths = write_result(result, out)
    except MatcherError as err:
        fail(err)
    typer.echo(result.summary(), err=True)
    reasons: dict[str, int] = {}
    for _, _, _, reason in result.unmatched:
        reasons[reason] = reasons.get(reason, 0) + 1
    for reason, count in sorted(reasons.items(), key=lambda kv: -kv[1]):
        typer.echo(f"  {count} short: {reason}", err=True)
    if as_json:
        typer.echo(json.dumps({"summary": result.summary(), "unmatched_reasons": reasons,
                               "files": {k: str(v) for k, v in paths.items()}}, indent=2))
    else:
        for name, path in paths.items():
            typer.echo(f"{name}: {path}")
    if rejected:
        raise typer.Exit(1)
