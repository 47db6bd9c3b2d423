"""What every `matcher` subcommand shares: the --home option and the way a failure is reported."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn, Optional

import typer

from matcher.domain.errors import MatcherError
from matcher.service.bootstrap import Services, bootstrap
from matcher.service.config import load_config

__all__ = ["HomeOption", "examples", "fail", "services"]

HomeOption = Annotated[Optional[Path], typer.Option("--home", help="Store folder (overrides MATCHER_HOME).")]


def services(home: Path | None, *, progress: bool = True) -> Services:
    """The services over the store: settings read once, here, at the edge (a store that cannot
    be opened, e.g. a PostgreSQL server that is down, is one error line)."""
    try:
        return bootstrap(load_config(home=home), progress=progress)
    except MatcherError as err:
        fail(err)


def fail(message: object, code: int = 1) -> NoReturn:
    """An error line on stderr and the exit code: 1 for failures, 2 for usage errors."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def examples(*commands: str) -> str:
    """The epilog of a command's --help: its examples, one command a line."""
    return "Examples:\n\n" + "\n\n".join(f"  {c}" for c in commands)
