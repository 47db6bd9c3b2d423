"""`matcher agenda`: a matchmaking day's 1:1 meetings from requests and suggestions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from matcher.cli.common import HomeOption, examples, fail, services
from matcher.domain.errors import MatcherError
from matcher.export.agenda import write_agenda
from matcher.service.agendas import EVENT_EXAMPLE, agenda_data, parse_event, parse_requests, read_rows, run_agenda

__all__ = ["EPILOG", "agenda"]

EPILOG = examples(
    "matcher agenda --event event.json --requests requests.csv --out day/",
    "matcher agenda --event event.json --requests requests.xlsx --participants people.csv --out day/ --json",
) + "\n\nAn event file (JSON; slot numbers in availability count from 1; slots may instead be listed as " \
    "\"slots\": [{\"start\": ..., \"end\": ...}]):\n\n  " + json.dumps(EVENT_EXAMPLE)


def agenda(
    event: Annotated[Path, typer.Option("--event", help="The event: JSON with tables, max_meetings, "
                                        "cross_border_only, slots (or day) and availability (see below).")],
    requests: Annotated[Path, typer.Option("--requests", help="Meeting requests (CSV, XLSX, JSON or JSONL) with "
                                           "the columns requester_id, target_id and optionally priority.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for agenda.csv, unscheduled.csv, grid.html, "
                                      "agendas/ID.html and calendars/ID.ics.")],
    participants: Annotated[Optional[Path], typer.Option(
        "--participants", help="Who takes part: a file with an id column (ids in the store), or a profile file "
        "(.jsonl) ingested first. Default: everyone a request names.")] = None,
    k: Annotated[int, typer.Option("--k", min=1, max=50, help="Suggested partners per participant to fill free "
                                   "slots.")] = 5,
    time_limit: Annotated[float, typer.Option("--time-limit", min=0.1, help="Seconds for the exact solver.")] = 20.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary, meetings and left-out requests as "
                                          "JSON.")] = False,
    home: HomeOption = None,
) -> None:
    """Plan a matchmaking day: choose 1:1 meetings and give each a slot and a table. Requested meetings
    come first (a mutual request counts more), then each participant's suggested partners abroad fill
    free slots. Nobody is in two meetings at once; availability, tables per slot, the per-person
    maximum, cross_border_only and conflicts of interest (co-authors, one institution) always hold.
    A greedy start is improved by OR-Tools CP-SAT within --time-limit; the gap is reported. Every
    request left out is listed in unscheduled.csv with its reason (unknown participant, conflict of
    interest, same country, unavailable, over the maximum, no free table).
    """
    try:
        engine = services(home).engine
        ids: list[str] = []
        if participants is not None and participants.suffix.lower() == ".jsonl":
            from matcher.ingest.readers import read_profiles

            read = read_profiles(participants)
            for rejection in read.rejected:
                typer.echo(f"rejected {rejection}", err=True)
            engine.add([p for _, p in read.profiles])
            ids = [p.id for _, p in read.profiles]
        elif participants is not None:
            ids = [str(r.get("id") or "").strip() for r in read_rows(participants)]
            ids = [i for i in ids if i]
        the_event = parse_event(json.loads(event.read_text()))
        run = run_agenda(engine.corpus(), the_event, parse_requests(read_rows(requests)), ids, k=k,
                         time_limit_s=time_limit)
        paths = write_agenda(run.agenda, the_event, run.people, out)
    except (MatcherError, OSError, ValueError) as err:
        fail(err)
    data = agenda_data(run)
    s = data["summary"]
    typer.echo(f"{s['meetings']} meetings ({s['requested_meetings']} requested of at most {s['requested_bound']}), "
               f"{s['unscheduled']} requests left out; solver {s['status']}, gap {s['gap']:.3f}", err=True)
    if as_json:
        typer.echo(json.dumps({**data, "files": {"agenda.csv": str(paths["agenda.csv"]),
                                                 "unscheduled.csv": str(paths["unscheduled.csv"]),
                                                 "grid.html": str(paths["grid.html"])}}, indent=2))
    else:
        for name in ("agenda.csv", "unscheduled.csv", "grid.html"):
            typer.echo(f"{name}: {paths[name]}")
