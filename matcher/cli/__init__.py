"""The `matcher` command line (`matcher.cli.main`); data to stdout, progress and messages to stderr."""

from matcher.cli.main import app, main

__all__ = ["app", "main"]
