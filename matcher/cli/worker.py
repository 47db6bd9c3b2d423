"""`matcher worker`: run the batch jobs of a shared store."""

from __future__ import annotations

import signal
import threading
from typing import Annotated, Optional

import typer

from matcher.cli.common import HomeOption, examples, fail, services
from matcher.domain.errors import MatcherError

__all__ = ["EPILOG", "worker"]

EPILOG = examples(
    "MATCHER_STORE=postgresql://matcher:secret@db.internal/matcher matcher worker",
    "matcher worker --name batch-1 --home /var/lib/matcher-worker",
    "matcher worker --once   # run what is queued, then exit",
)


def worker(
    name: Annotated[Optional[str], typer.Option("--name", help="How this worker is named in the jobs it runs "
                                                "(default: host:pid).")] = None,
    once: Annotated[bool, typer.Option("--once", help="Run the queued jobs, then exit.")] = False,
    poll: Annotated[float, typer.Option("--poll", min=0.05, max=60, help="Seconds between looks at an empty "
                                        "queue.")] = 0.5,
    home: HomeOption = None,
) -> None:
    """Run batch jobs that API replicas enqueue, when the store is PostgreSQL (MATCHER_STORE).

    With a PostgreSQL store, `POST /v1/batches` and the office pages only enqueue a job; one or more
    workers claim queued jobs one at a time (never the same one twice), run them over their own
    matching state (in MATCHER_HOME, caught up with the store before each job) and keep each
    result in the database, where every replica reads it. A job whose worker stops mid-way is
    marked failed, with the reason, by the next worker or replica that looks. Stop with Ctrl-C or
    SIGTERM: the job under way is finished first (Ctrl-C twice stops at once).
    """
    from matcher.service.worker import run_worker

    stop = threading.Event()

    def finish_then_stop(*_: object) -> None:
        if stop.is_set():  # asked twice: stop now (the job is failed by the next worker that looks)
            raise KeyboardInterrupt
        typer.echo("stopping after the job under way (Ctrl-C again to stop now)", err=True)
        stop.set()

    signal.signal(signal.SIGTERM, finish_then_stop)
    signal.signal(signal.SIGINT, finish_then_stop)
    wired = services(home, progress=False)
    try:
        if wired.batches.queue is None:
            raise MatcherError("a worker runs the jobs of a shared store: set MATCHER_STORE=postgresql://...")
        typer.echo(f"worker {name or 'on this host'} running the jobs of store {wired.store.store_id()}", err=True)
        ran = run_worker(wired, stop, name=name, poll_s=poll, once=once, say=lambda line: typer.echo(line, err=True))
    except MatcherError as err:
        fail(err)
    except KeyboardInterrupt:
        ran = -1
    finally:
        wired.close()
    if ran >= 0:
        typer.echo(f"ran {ran} job(s)", err=True)
