"""The `matcher` command line. Data goes to stdout (JSON with --json), progress and messages to stderr.

Exit codes: 0 success, 1 failure (including any rejected record), 2 usage error.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from matcher.cli.common import HomeOption, examples, fail, services
from matcher.domain.errors import MatcherError
from matcher.rank.matching import no_close_match
from matcher.service.config import load_config
from matcher.service.engine import MatchRequest

__all__ = ["app", "main"]

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

def _version(value: bool) -> None:
    if value:
        from matcher import __version__

        typer.echo(f"matcher {__version__}")
        raise typer.Exit()


@app.callback(epilog=examples("matcher demo --if-empty && matcher serve",
                              "matcher ingest researchers.jsonl",
                              'matcher match --text "drought tolerant wheat" --k 5',
                              "matcher --version"))
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Find research partners abroad: ingest profiles, match by profile or idea, serve the API.

    The store lives in MATCHER_HOME (default: ./data/store).
    """


def _emit_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))


@app.command(epilog=examples(
    "matcher ingest researchers.jsonl",
    "matcher ingest authors.jsonl --format openalex",
    "matcher ingest cordis-export/ --format cordis",
    "matcher ingest form.xlsx --map form-map.yaml",
    "curl -s https://example.org/people.jsonl | matcher ingest -",
    "matcher ingest researchers.jsonl --json",
))
def ingest(
    file: Annotated[Path, typer.Argument(
        help="A file or folder: profiles JSONL/CSV, OpenAlex, ORCID, CORDIS, XLSX; - reads standard input.")],
    fmt: Annotated[
        Optional[str],
        typer.Option("--format", help="openalex, orcid, cordis, csv, xlsx or jsonl; detected when omitted."),
    ] = None,
    mapping: Annotated[
        Optional[Path], typer.Option("--map", help="YAML mapping of a registration form's columns (CSV/XLSX).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    home: HomeOption = None,
) -> None:
    """Validate a file, store every valid record (upsert by id) and embed its works.

    Reads the interchange format (JSONL, flat CSV), OpenAlex authors and works (JSON, JSONL, API
    pages), ORCID v3.0 records, the CORDIS project.csv + organization.csv export (give the folder),
    and registration forms (CSV/XLSX with --map). FILE - reads standard input, in --format or the
    format its first bytes show (a zip is XLSX, { or [ JSON, anything else CSV). Records with the
    same ORCID or OpenAlex id are merged; a stored profile with the same ORCID or OpenAlex id under
    another id is reported with both ids. Each rejected record is reported with its file, line (or
    JSON path) and every fault it has; valid records are kept; re-running the same file changes
    nothing. Exits 1 if any record was rejected.

    A registration form's mapping (--map FILE.yaml) names, for each profile field, the column(s)
    it comes from, by header text (exact, else ignoring case and repeated spaces):

    \b
      sheet: Registrations              XLSX only: the worksheet (default: the first)
      id: {column: Registration ID, prefix: "reg-"}   required
      name: [First name, Last name]     several columns: joined by a space
      country: Country of residence     one column
      kind: {value: researcher}         a constant instead of a column
      keywords: {column: Research interests, split: [",", ";"]}
      works:                            a list; a work is kept if any of its cells is filled
        - title: Project title
          abstract: Project summary
          year: Project start year

    A field is a column name, a list of them, or an object with column (a name or a list) and
    optionally join (between several columns' values, default a space), split (keywords and a
    work's coauthors: the separator(s) inside a cell, default ;), prefix (put before a non-empty
    value) and slug: true (characters an id may not hold become -); or an object with value, a
    constant. Fields: id (required), name, kind, country, institution, keywords, capacity, orcid,
    openalex, career_stage, gender, email, and works with id, title, abstract, year, coauthors.

    Bounds: a line (record) over MATCHER_MAX_LINE_BYTES (4 MiB) or a CSV cell over
    MATCHER_MAX_FIELD_BYTES (1 MiB) is rejected with its line; a first line that long, or a JSON
    document (not JSON Lines) over MATCHER_MAX_DOCUMENT_BYTES (64 MiB), is one error for the file.

    Interrupted (Ctrl-C, exit code 130), an ingest keeps every profile it stored, with its
    vectors: run the same command again to finish; nothing is embedded twice.
    """
    from matcher.service import profiles

    try:
        if str(file) == "-":
            report = profiles.ingest_stream(services(home), sys.stdin.buffer, fmt, mapping, low_priority_merge=True)
        else:
            report = profiles.ingest(services(home), file, fmt, mapping, low_priority_merge=True)
    except MatcherError as err:
        fail(err)
    except KeyboardInterrupt:
        typer.echo("\ninterrupted: every profile stored so far has its vectors; run the same command again to "
                   "finish (stored profiles are skipped, nothing is embedded twice)", err=True)
        raise typer.Exit(130) from None
    for note in report.notes:
        typer.echo(f"note: {note}", err=True)
    for rejection in report.rejections:
        typer.echo(f"rejected {rejection}", err=True)
    if as_json:
        _emit_json(report.as_dict())
    else:
        typer.echo(report.line())
    if report.rejected:
        raise typer.Exit(1)


@app.command("match", epilog=examples(
    'matcher match --text "groundwater contamination modelling in transboundary aquifers" --k 10',
    "matcher match --id de-0001 --countries widening --json",
    "matcher match --id tr-0001 --k 5 --exclude-countries eu --exclude-coauthors",
))
def match_command(
    profile_id: Annotated[Optional[str], typer.Option("--id", help="Your profile id (as stored).")] = None,
    text: Annotated[Optional[str], typer.Option("--text", help="A project idea in free text.")] = None,
    k: Annotated[int, typer.Option("--k", help="How many suggestions (1-100; clamped to the pool).")] = 10,
    countries: Annotated[
        Optional[list[str]], typer.Option("--countries", help="Only these countries or groups (e.g. DE, widening).")
    ] = None,
    exclude_countries: Annotated[
        Optional[list[str]], typer.Option("--exclude-countries", help="Never these countries or groups.")
    ] = None,
    include_own_country: Annotated[
        bool, typer.Option("--include-own-country", help="Also suggest people from the requester's country.")
    ] = False,
    exclude_coauthors: Annotated[bool, typer.Option("--exclude-coauthors", help="Drop your co-authors.")] = False,
    exclude_same_institution: Annotated[
        bool, typer.Option("--exclude-same-institution", help="Drop people at your institution.")
    ] = False,
    diversity: Annotated[
        Optional[float], typer.Option("--diversity", min=0.0, max=1.0, help="0 = pure relevance, higher = more varied.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array of suggestions.")] = False,
    home: HomeOption = None,
) -> None:
    """Suggest partners abroad by profile (--id), by project idea (--text), or both.

    Each suggestion shows its strength, how close it is on a scale that means the same in every
    query (0-1: the share of real consortium partners in the evaluation data that were less close;
    strong from 0.75, good from 0.5, weak below), and the ranking score the list is ordered by. A
    suggestion out of order by either figure says why (the diversity re-rank, shared key terms, a
    longer record). When even the closest suggestion is weak, a note says the pool has no close match.
    """
    if profile_id is None and not text:
        fail("give --id, --text, or both (see matcher match --help)", code=2)
    try:
        (text or "").encode("utf-8")
    except UnicodeError:
        fail("--text must be UTF-8 text", code=2)
    if any(not c.strip() for c in [*(countries or ()), *(exclude_countries or ())]):
        fail("a country or group in --countries / --exclude-countries cannot be blank", code=2)
    request = MatchRequest(
        profile_id=profile_id,
        text=text,
        k=k,
        countries=tuple(countries or ()),
        exclude_countries=tuple(exclude_countries or ()),
        exclude_own_country=not include_own_country,
        exclude_coauthors=exclude_coauthors,
        exclude_same_institution=exclude_same_institution,
        diversity=diversity,
    )
    try:
        suggestions = services(home).engine.match(request)
    except MatcherError as err:
        fail(err)
    if note := no_close_match(suggestions):
        typer.echo(f"note: {note}", err=True)
    if as_json:
        _emit_json([dataclasses.asdict(s) for s in suggestions])
        return
    if not suggestions:
        typer.echo("no candidate satisfies the rules", err=True)
    for rank, s in enumerate(suggestions, start=1):
        where = f"{s.country}, {s.institution}" if s.institution else s.country
        typer.echo(f"{rank:>3}. {s.name} ({where}) [{s.id}]  {s.strength_label} match, strength {s.strength:.2f}, "
                   f"score {s.score:.3f}")
        if s.rank_note:
            typer.echo(f"     order: {s.rank_note}")
        typer.echo(f"     why: {s.explanation.summary}")


@app.command(epilog=examples("matcher erase tr-0001", "matcher erase tr-0001 --yes   # in scripts"))
def erase(
    profile_id: Annotated[str, typer.Argument(help="The id of the profile to erase.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    home: HomeOption = None,
) -> None:
    """Erase a profile completely, as `DELETE /v1/profiles/{id}` does: its record, works and cached
    vectors no one else uses, its owner keys, its rows in kept batch results and its id in the
    audit trail; the matching state's files are rewritten without it before this returns.
    """
    from matcher.service import profiles

    if not yes and not typer.confirm(f"erase profile {profile_id} and everything derived from it?"):
        fail("nothing erased", code=1)
    try:
        profiles.erase(services(home), profile_id, scope="cli")
    except MatcherError as err:
        fail(err)
    typer.echo(f"erased {profile_id}")


@app.command(epilog=examples(
    "matcher serve",
    "matcher serve --host 0.0.0.0 --port 8080   # behind a TLS-terminating proxy",
    "MATCHER_HOME=/srv/matcher matcher serve --port 9000",
))
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    home: HomeOption = None,
) -> None:
    """Serve the HTTP API (docs at /docs, health at /health) over the store.

    The server loads the matching state's snapshot, answers queries by profile id at once and by
    text as soon as the model is loaded (a few seconds), picks up writes made by other processes
    on the same store within seconds, and merges in a separate low-priority process.
    """
    import uvicorn

    from api.app import create_app

    # Background threads (catching up with other processes' writes, loading the model) run Python
    # code; a short switch interval hands the interpreter back to a query within 0.5 ms instead of
    # 5 ms at each of its GIL hand-offs (measured at 100k profiles, match p99 during a 10k-profile
    # ingest by another process: 3.1x idle with a 1 ms interval, 2.4x with 0.5 ms, 2.3x with 0.2 ms).
    sys.setswitchinterval(0.0005)
    # uvicorn's own access log would print concrete paths (profile ids); the app logs route templates
    uvicorn.run(create_app(load_config(home=home)), host=host, port=port, log_config=_serve_logging(),
                log_level="info", access_log=False)


def _serve_logging() -> dict[str, Any]:
    """uvicorn's logging, plus a stderr handler for the service's own loggers (`matcher.*`: the
    access log, warnings, errors); without one Python prints their warnings only, as bare text."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["matcher"] = {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}
    config["handlers"]["matcher"] = {"class": "logging.StreamHandler", "formatter": "matcher",
                                     "stream": "ext://sys.stderr"}
    config["loggers"]["matcher"] = {"handlers": ["matcher"], "level": "INFO", "propagate": False}
    return config


@app.command(epilog=examples("matcher demo", "matcher demo --if-empty   # in start-up scripts",
                             "matcher demo --generate /tmp/pool", "matcher demo --vectors"))
def demo(
    generate: Annotated[
        Optional[Path], typer.Option("--generate", help="Write a freshly generated demo pool to this folder and stop.")
    ] = None,
    vectors: Annotated[
        bool, typer.Option("--vectors", help="Recompute the demo pool's shipped vectors file with the model.")
    ] = False,
    if_empty: Annotated[
        bool, typer.Option("--if-empty", help="Do nothing when the store already has profiles.")
    ] = False,
    home: HomeOption = None,
) -> None:
    """Load the shipped demo pool (1,600 researchers, 57 countries) into the store.

    Uses the pool's shipped vectors when they come from the configured model and numeric family
    (int8 or fp32), whichever CPU made them, so this takes seconds; otherwise it says why and
    embeds the pool with a progress bar (a few minutes on a laptop CPU).
    """
    from matcher.demo import shipped as demo_store

    try:
        if generate is not None:
            count = demo_store.generate(generate)
            typer.echo(f"wrote {count} profiles to {generate}")
            return
        engine = services(home).engine
        if if_empty and engine.store.count():
            typer.echo(f"store {engine.store.home} already has {engine.store.count()} profiles; left as is")
            return
        if vectors:
            path = demo_store.write_vectors(engine)
            typer.echo(f"wrote {path}")
            return
        report = demo_store.load(engine, say=lambda line: typer.echo(line, err=True))
    except MatcherError as err:
        fail(err)
    typer.echo(report)


def _register_subcommands() -> None:
    from matcher.cli.agenda import EPILOG, agenda
    from matcher.cli.batch import EPILOG as BATCH_EPILOG
    from matcher.cli.batch import batch
    from matcher.cli.consortium import consortium
    from matcher.cli.eval import eval_app
    from matcher.cli.keys import keys_app
    from matcher.cli.migrate import EPILOG as MIGRATE_EPILOG
    from matcher.cli.migrate import migrate
    from matcher.cli.state import state_app
    from matcher.cli.tune import TUNE_EPILOG, tune
    from matcher.cli.worker import EPILOG as WORKER_EPILOG
    from matcher.cli.worker import worker

    app.command()(consortium)
    app.command(epilog=BATCH_EPILOG)(batch)
    app.command(epilog=EPILOG)(agenda)
    app.command(epilog=MIGRATE_EPILOG)(migrate)
    app.command(epilog=WORKER_EPILOG)(worker)
    app.add_typer(eval_app, name="eval")
    app.add_typer(keys_app, name="keys")
    app.add_typer(state_app, name="state")
    app.command(epilog=TUNE_EPILOG)(tune)


_register_subcommands()


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
