"""The PostgreSQL store's schema, as an ordered list of migration steps.

A database records the steps it has (`schema_version`); opening a store applies the missing ones
in one transaction under an advisory lock, so two processes starting at once do not race (the
second waits, then finds nothing left to do). A step, once released, never changes: a change to
the schema is a new step at the end.

Every table lives here, the ones the key, job and audit repositories use included: their SQLite
twins are made by those modules (`ensure_schema`); in PostgreSQL the schema is versioned in one place.
"""

from __future__ import annotations

import uuid
from typing import Any

from matcher.domain.errors import MatcherError

__all__ = ["LOCK_KEY", "MIGRATIONS", "NOW", "migrate"]

LOCK_KEY = 0x6D61746368  # "match": the advisory lock taken while migrating
NOW = """to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')"""

MIGRATIONS: list[str] = [
    # 1: profiles, works, the change log and the embedding cache; keys, jobs (what each asks, its
    # result, the worker running it) and the audit trail; the API's rate-limit buckets
    f"""
    CREATE TABLE meta (key text PRIMARY KEY, value text NOT NULL);
    CREATE TABLE generation (
        id integer PRIMARY KEY CHECK (id = 1),
        value bigint NOT NULL,
        pruned_through bigint NOT NULL
    );
    INSERT INTO generation VALUES (1, 0, 0);
    CREATE TABLE profiles (
        id text PRIMARY KEY,
        kind text NOT NULL,
        country text NOT NULL,
        name text NOT NULL,
        data text NOT NULL,
        content_hash text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE works (
        profile_id text NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
        position integer NOT NULL,
        work_id text NOT NULL,
        title text NOT NULL,
        year integer,
        text_hash text NOT NULL,
        PRIMARY KEY (profile_id, position)
    );
    CREATE INDEX works_by_hash ON works(text_hash);
    CREATE TABLE embeddings (
        model_id text NOT NULL,
        text_hash text NOT NULL,
        vector bytea NOT NULL,
        PRIMARY KEY (model_id, text_hash)
    );
    CREATE INDEX embeddings_by_hash ON embeddings(text_hash);
    CREATE TABLE changes (seq bigint PRIMARY KEY, profile_id text NOT NULL, at timestamptz NOT NULL DEFAULT now());
    CREATE INDEX changes_by_profile ON changes(profile_id);
    CREATE TABLE api_keys (
        key_id text PRIMARY KEY,
        digest text NOT NULL UNIQUE,
        scope text NOT NULL,
        owner text,
        label text NOT NULL DEFAULT '',
        created_at text NOT NULL DEFAULT {NOW},
        revoked integer NOT NULL DEFAULT 0
    );
    CREATE TABLE batch_jobs (
        id text PRIMARY KEY,
        status text NOT NULL,
        done integer NOT NULL DEFAULT 0,
        total integer NOT NULL DEFAULT 0,
        request text NOT NULL,
        summary text,
        error text,
        key_id text,
        created_at text NOT NULL DEFAULT {NOW},
        finished_at text,
        worker text
    );
    CREATE TABLE batch_plans (
        job_id text PRIMARY KEY REFERENCES batch_jobs(id) ON DELETE CASCADE,
        plan text NOT NULL
    );
    CREATE TABLE batch_results (
        job_id text PRIMARY KEY REFERENCES batch_jobs(id) ON DELETE CASCADE,
        version bigint NOT NULL,
        data bytea NOT NULL
    );
    CREATE TABLE rate_buckets (key_id text PRIMARY KEY, tokens double precision NOT NULL,
                               at timestamptz NOT NULL, granted boolean NOT NULL);
    CREATE TABLE batch_holders (
        profile_id text NOT NULL,
        job_id text NOT NULL,
        PRIMARY KEY (profile_id, job_id)
    );
    CREATE INDEX batch_holders_by_job ON batch_holders(job_id);
    CREATE TABLE audit (
        id bigserial PRIMARY KEY,
        at text NOT NULL,
        key_id text,
        scope text,
        action text NOT NULL,
        target text,
        detail text NOT NULL DEFAULT '{{}}'
    );
    """,
]


def migrate(connection: Any) -> int:
    """Apply the steps `connection`'s database lacks (one transaction, under the advisory lock);
    the schema version it has now."""
    with connection.transaction():
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        connection.execute("CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)")
        row = connection.execute("SELECT max(version) FROM schema_version").fetchone()
        current = int(row[0] or 0)
        if current > len(MIGRATIONS):
            raise MatcherError(f"the PostgreSQL store has schema version {current}, newer than this version "
                               f"of matcher knows ({len(MIGRATIONS)}): upgrade matcher")
        for version in range(current + 1, len(MIGRATIONS) + 1):
            connection.execute(MIGRATIONS[version - 1])
            connection.execute("INSERT INTO schema_version VALUES (%s)", (version,))
        if connection.execute("SELECT 1 FROM meta WHERE key = 'store_id'").fetchone() is None:
            connection.execute("INSERT INTO meta VALUES ('store_id', %s)", (uuid.uuid4().hex,))
    return len(MIGRATIONS)
