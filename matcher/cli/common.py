"""What every `matcher` subcommand shares: the --home option and the way a failure is reported."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn, Optional

import typer

__all__ = ["HomeOption", "fail"]

HomeOption = Annotated[Optional[Path], typer.Option("--home", help="Store folder (overrides MATCHER_HOME).")]


def fail(message: object, code: int = 1) -> NoReturn:
    """An error line on stderr and the exit code: 1 for failures, 2 for usage errors."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)
