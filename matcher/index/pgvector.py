"""Candidate search in PostgreSQL with pgvector (`MATCHER_INDEX=pgvector`, database `MATCHER_INDEX_URL`).

Where it sits in the matching state: it is the index of the *base* segment only. The base is a
snapshot, immutable until the next merge, so its rows are written to PostgreSQL once and an HNSW
graph built over them once; the delta (profiles written since the snapshot) stays in memory with
the exact scan, and tombstones stay a boolean mask (`StackedIndex` searches both as one). A write
therefore never touches the graph, and a merge builds a fresh one, beside the old one, which
queries keep using until the state swaps. This is simpler and sounder than updating a graph row by
row: HNSW deletions only mark tuples, and a graph that changes under a query has no snapshot.

Rows live in a table per vector set, named by a digest of what it holds (vectors, a group per row,
graph parameters): `matcher_vectors_<digest>(id int4 primary key: the row, grp int2, embedding halfvec)`,
with a B-tree on `grp` and an HNSW graph (`halfvec_cosine_ops`). Every process (API replicas, the
merge process, the CLI) that opens the same snapshot finds the same table: the first builds it,
under an advisory lock, and the others wait for it and reuse it. The catalog
`matcher_vector_sets` records the built sets; sets not opened for `keep_unused` are dropped.

`search(queries, n, allowed)` turns the boolean row mask into SQL. The mask the matching path
builds is nearly always "some whole countries, minus a few rows" (not my country; these countries;
minus the requester, tombstones, co-authors), so the groups (countries, `fit(..., groups=)`)
mostly allowed become `grp = ANY(...)`, their disallowed rows `id <> ALL(...)`, and allowed rows
of other groups `OR id = ANY(...)`: no giant id list. When the mask admits few rows (`scans`: so
few that walking the graph to find `n` of them costs more than reading them all) the rows are
scanned exactly (a B-tree bitmap scan, then a sort); otherwise the HNSW graph is walked with
pgvector 0.8's iterative scan (`hnsw.iterative_scan`), which keeps walking past filtered-out
tuples until `n` are found or `max_scan_tuples` are seen. A query the graph answers short is
answered again exactly. Scores are cosine similarities of float16 vectors.

The defaults (m=32, ef_construction=200, ef_search=400, relaxed_order, max_scan_tuples=20,000)
reach recall@300 of 0.999 against the exact scan at 100,000 profiles under the country rules
(0.997 for three countries together, the hardest; `bench/scale_pgvector.py`). The graph takes
4-5 minutes to build there on 2 busy cores. The pgvector defaults (m=16, ef_construction=64) reach
only 0.97-0.98 with a one-country rule, and leave single queries far lower: the topics of a pool
are tight clusters, which a sparser graph fails to connect. strict_order keeps the order but walks
a worse path (0.98 on one country). Cosine is computed in float16 (halfvec), as the exact scan does.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from matcher.domain.errors import MatcherError

__all__ = ["PgVectorIndex", "RowFilter", "row_filter"]

CATALOG = "matcher_vector_sets"
_CATALOG_LOCK = 7_146_205_001  # advisory lock key: creating the catalog
_TOUCH_SECONDS = 3600.0  # a set in use is marked used at most this often


@dataclass(frozen=True)
class RowFilter:
    """A row mask as SQL terms: (groups admitted whole, minus `excluded` rows) or `extra` rows."""

    groups: np.ndarray | None  # group codes admitted (None: every group)
    excluded: np.ndarray  # rows of admitted groups the mask leaves out
    extra: np.ndarray  # rows the mask admits outside the admitted groups
    count: int  # rows the mask admits

    def where(self) -> tuple[str, dict[str, list[int]]]:
        terms, params = [], {}
        if self.groups is not None:
            terms.append("grp = ANY(%(groups)s)")
            params["groups"] = self.groups.tolist()
        if len(self.excluded):
            terms.append("id <> ALL(%(excluded)s)")
            params["excluded"] = self.excluded.tolist()
        admitted = " AND ".join(terms) or "TRUE"
        if self.groups is not None and not len(self.groups):
            admitted = "FALSE"
        if len(self.extra):
            params["extra"] = self.extra.tolist()
            admitted = "id = ANY(%(extra)s)" if admitted == "FALSE" else f"({admitted}) OR id = ANY(%(extra)s)"
        return admitted, params


def row_filter(allowed: np.ndarray, codes: np.ndarray, n_groups: int) -> RowFilter:
    """The mask as groups mostly allowed (their disallowed rows listed) plus the allowed rows of the others."""
    total = np.bincount(codes, minlength=n_groups)
    kept = np.bincount(codes, weights=allowed, minlength=n_groups)
    whole = kept * 2 > total
    inside = whole[codes]
    groups = None if whole.all() else np.flatnonzero(whole).astype(np.int16)
    return RowFilter(groups, np.flatnonzero(inside & ~allowed), np.flatnonzero(~inside & allowed),
                     int(np.count_nonzero(allowed)))


class PgVectorIndex:
    """The base segment's nearest rows by cosine, in PostgreSQL (see the module)."""

    def __init__(
        self,
        url: str,
        *,
        m: int = 32,
        ef_construction: int = 200,
        ef_search: int = 400,
        iterative_scan: str = "relaxed_order",
        max_scan_tuples: int = 20_000,
        tuple_cost: float = 8.0,
        build_memory: str | None = None,
        build_workers: int = 1,
        keep_unused: float = 86_400.0,
    ):
        if iterative_scan not in ("off", "relaxed_order", "strict_order"):
            raise ValueError("iterative_scan must be off, relaxed_order or strict_order")
        self.url = url
        self.m, self.ef_construction = m, ef_construction
        self.ef_search, self.iterative_scan, self.max_scan_tuples = ef_search, iterative_scan, max_scan_tuples
        self.tuple_cost = tuple_cost
        self.build_memory, self.build_workers, self.keep_unused = build_memory, build_workers, keep_unused
        self._local = threading.local()
        self._touched = 0.0

    # -- connections ----------------------------------------------------------------------------

    def _connect(self) -> Any:
        import psycopg

        try:
            connection = psycopg.connect(self.url, autocommit=True)
        except psycopg.Error as err:
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise MatcherError(f"the pgvector index cannot reach its database (MATCHER_INDEX_URL): {reason}") from err
        for name, value in (("hnsw.ef_search", self.ef_search), ("hnsw.iterative_scan", self.iterative_scan),
                            ("hnsw.max_scan_tuples", self.max_scan_tuples), ("jit", "off")):
            connection.execute("SELECT set_config(%s, %s, false)", (name, str(value)))
        return connection

    def _connection(self) -> Any:
        """This thread's connection (each thread has its own; a broken one is replaced)."""
        connection = getattr(self._local, "connection", None)
        if connection is None or connection.closed or connection.broken:
            connection = self._local.connection = self._connect()
        return connection

    # -- building -------------------------------------------------------------------------------

    def fit(self, vectors: np.ndarray, groups: np.ndarray | None = None) -> PgVectorIndex:
        """Use the table holding these rows, building it first when no process has."""
        vectors = np.asarray(vectors)
        if vectors.ndim != 2 or len(vectors) == 0:
            raise ValueError("an index needs a non-empty 2-d array of vectors")
        labels, codes = np.unique(np.asarray(groups).astype(str), return_inverse=True) if groups is not None else (
            np.asarray(["*"]), np.zeros(len(vectors), dtype=np.int64))
        if len(labels) > np.iinfo(np.int16).max:
            raise ValueError("the pgvector index takes at most 32,767 groups")
        half = np.ascontiguousarray(vectors, dtype=np.float16)
        digest = hashlib.blake2b(digest_size=12)
        for part in (np.asarray(half.shape), half, codes.astype(np.int16), np.asarray(labels).astype("U"),
                     np.asarray([self.m, self.ef_construction])):
            digest.update(np.ascontiguousarray(part).tobytes())
        self.table = f"matcher_vectors_{digest.hexdigest()}"
        self.labels, self.codes = [str(x) for x in labels], codes.astype(np.int16)
        self.n_rows, self.dim = len(half), half.shape[1]
        connection = self._connection()
        with _advisory_lock(connection, _CATALOG_LOCK):
            connection.execute(f"""CREATE TABLE IF NOT EXISTS {CATALOG} (name text PRIMARY KEY, n_rows integer NOT NULL,
                dim integer NOT NULL, labels text[] NOT NULL, settings jsonb NOT NULL, built_at timestamptz NOT NULL,
                used_at timestamptz NOT NULL)""")
        with _advisory_lock(connection, int(digest.hexdigest()[:15], 16)):
            found = connection.execute(f"UPDATE {CATALOG} SET used_at = now() WHERE name = %s RETURNING n_rows",
                                       (self.table,)).fetchone()
            if found is None:
                self._build(connection, half)
        self._touched = time.monotonic()
        self._drop_unused(connection)
        return self

    def _build(self, connection: Any, half: np.ndarray) -> None:
        table = self.table
        connection.execute(f"DROP TABLE IF EXISTS {table}")  # what a build cut short left
        connection.execute(f"CREATE TABLE {table} (id integer PRIMARY KEY, grp smallint NOT NULL, "
                           f"embedding halfvec({self.dim}) NOT NULL)")
        with connection.cursor() as cursor, cursor.copy(
                f"COPY {table} (id, grp, embedding) FROM STDIN WITH (FORMAT binary)") as copy:
            copy.write(b"PGCOPY\n\xff\r\n\x00" + bytes(8))
            for lo in range(0, len(half), 20_000):
                copy.write(_binary_rows(half[lo: lo + 20_000], self.codes[lo: lo + 20_000], lo))
            copy.write(b"\xff\xff")
        connection.execute(f"CREATE INDEX ON {table} (grp)")
        connection.execute("SELECT set_config('maintenance_work_mem', %s, false)", (self._build_memory(),))
        connection.execute("SELECT set_config('max_parallel_maintenance_workers', %s, false)",
                           (str(self.build_workers),))
        connection.execute(f"CREATE INDEX ON {table} USING hnsw (embedding halfvec_cosine_ops) "
                           f"WITH (m = {int(self.m)}, ef_construction = {int(self.ef_construction)})")
        connection.execute(f"ANALYZE {table}")
        connection.execute(
            f"INSERT INTO {CATALOG} VALUES (%s, %s, %s, %s, %s, now(), now())",
            (table, self.n_rows, self.dim, self.labels,
             json.dumps({"m": self.m, "ef_construction": self.ef_construction})))

    def _build_memory(self) -> str:
        """`maintenance_work_mem` for the build: the graph must fit in it, or the build slows many
        times over; about a vector, 2m neighbours and the bookkeeping per row, with a margin."""
        if self.build_memory:
            return self.build_memory
        per_row = 2 * self.dim + 16 * 2 * self.m + 200
        return f"{max(64, int(1.5 * self.n_rows * per_row / 2**20))}MB"

    def _drop_unused(self, connection: Any) -> None:
        stale = connection.execute(
            f"DELETE FROM {CATALOG} WHERE used_at < now() - make_interval(secs => %s) AND name <> %s RETURNING name",
            (self.keep_unused, self.table)).fetchall()
        for (name,) in stale:
            connection.execute(f"DROP TABLE IF EXISTS {name}")

    def __len__(self) -> int:
        return self.n_rows

    # -- searching ------------------------------------------------------------------------------

    def search(
        self, queries: np.ndarray, n: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        queries = queries / np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
        rows_filter = (RowFilter(None, np.zeros(0, np.int64), np.zeros(0, np.int64), len(self)) if allowed is None
                       else row_filter(allowed, self.codes, len(self.labels)))
        k = min(n, rows_filter.count)
        if k <= 0:
            return np.zeros((len(queries), 0), dtype=np.int64), np.zeros((len(queries), 0), dtype=np.float32)
        exact = self.scans(k, rows_filter.count)
        where, params = rows_filter.where()
        connection = self._connection()
        self._touch(connection)
        out_rows = np.empty((len(queries), k), dtype=np.int64)
        out_sims = np.empty((len(queries), k), dtype=np.float32)
        for i, query in enumerate(queries):
            found = self._query(connection, query, k, where, params, exact=exact)
            if len(found) < k and not exact:  # the graph ran out of tuples to walk: scan
                found = self._query(connection, query, k, where, params, exact=True)
            rows = np.fromiter((r for r, _ in found), dtype=np.int64, count=len(found))
            sims = 1.0 - np.fromiter((d for _, d in found), dtype=np.float32, count=len(found))
            order = np.lexsort((rows, -sims))
            out_rows[i], out_sims[i] = rows[order], sims[order]
        return out_rows, out_sims

    def scans(self, k: int, count: int) -> bool:
        """Whether `k` of `count` allowed rows are found by scanning those rows rather than walking
        the graph. The graph walks about k * rows / count tuples to find k allowed ones, and a
        tuple walked costs about `tuple_cost` rows scanned (measured at 100,000 rows: a scan reads
        10,000 rows faster than the graph finds 300 in a country of 10%); past half of
        `max_scan_tuples` the graph would give up anyway."""
        walked = k * len(self) / max(count, 1)
        return k >= count or walked * self.tuple_cost >= count or 2 * walked > self.max_scan_tuples

    def statement(self, where: str, *, exact: bool) -> str:
        """The SQL of one query (parameters q, k and the filter's): the k nearest rows and their
        cosine distances, by a scan of the filter's rows, or else by the graph (where the planner
        finds it cheaper than a scan, as it does past a few thousand rows)."""
        if exact:  # OFFSET 0 fences the subquery: the planner cannot walk the graph for the outer ORDER BY
            return (f"SELECT id, d FROM (SELECT id, embedding <=> %(q)s::halfvec AS d FROM {self.table} "
                    f"WHERE {where} OFFSET 0) AS candidate ORDER BY d LIMIT %(k)s")
        return f"SELECT id, embedding <=> %(q)s::halfvec AS d FROM {self.table} WHERE {where} ORDER BY d LIMIT %(k)s"

    def _query(self, connection: Any, query: np.ndarray, k: int, where: str, params: dict[str, list[int]],
               *, exact: bool) -> list[tuple[int, float]]:
        vector = "[" + ",".join(f"{x:.6g}" for x in query.tolist()) + "]"
        sql = self.statement(where, exact=exact)
        import psycopg

        try:
            try:
                return connection.execute(sql, {**params, "q": vector, "k": k}).fetchall()
            except psycopg.OperationalError:  # the server restarted, or a proxy dropped the connection: once more
                connection = self._local.connection = self._connect()
                return connection.execute(sql, {**params, "q": vector, "k": k}).fetchall()
        except psycopg.Error as err:
            raise MatcherError(f"the pgvector index failed to search {self.table}: "
                               f"{str(err).strip().splitlines()[0]}") from err

    def _touch(self, connection: Any) -> None:
        if time.monotonic() - self._touched > _TOUCH_SECONDS:
            self._touched = time.monotonic()
            connection.execute(f"UPDATE {CATALOG} SET used_at = now() WHERE name = %s", (self.table,))

    # -- persistence ----------------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        """Which table holds the rows (never the database's address: it may carry a password)."""
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "index.json").write_text(json.dumps({
            "kind": "pgvector", "table": self.table, "m": self.m, "ef_construction": self.ef_construction}))

    @classmethod
    def load(cls, directory: Path, *, url: str, **settings: Any) -> PgVectorIndex:
        meta = json.loads((directory / "index.json").read_text())
        index = cls(url, m=meta["m"], ef_construction=meta["ef_construction"], **settings)
        connection = index._connection()
        found = connection.execute(f"SELECT n_rows, dim, labels FROM {CATALOG} WHERE name = %s",
                                   (meta["table"],)).fetchone()
        if found is None:
            raise MatcherError(f"the pgvector index has no table {meta['table']} (dropped as unused?)")
        index.table, (index.n_rows, index.dim, index.labels) = meta["table"], found
        codes = connection.execute(f"SELECT grp FROM {index.table} ORDER BY id").fetchall()
        index.codes = np.asarray([c for (c,) in codes], dtype=np.int16)
        return index


def _binary_rows(half: np.ndarray, codes: np.ndarray, first_row: int) -> bytes:
    """Rows in PostgreSQL's binary COPY format: (row int4, grp int2, embedding halfvec)."""
    dim = half.shape[1]
    layout = np.dtype([("fields", ">i2"), ("row_len", ">i4"), ("row", ">i4"), ("grp_len", ">i4"), ("grp", ">i2"),
                       ("vec_len", ">i4"), ("dim", ">i2"), ("unused", ">i2"), ("vec", ">f2", (dim,))])
    out = np.zeros(len(half), dtype=layout)
    out["fields"], out["row_len"], out["grp_len"], out["vec_len"] = 3, 4, 2, 4 + 2 * dim
    out["row"] = np.arange(first_row, first_row + len(half))
    out["grp"], out["dim"], out["vec"] = codes, dim, half
    return out.tobytes()


@contextmanager
def _advisory_lock(connection: Any, key: int) -> Iterator[None]:
    """Hold a session-level advisory lock (released with the connection if it breaks)."""
    connection.execute("SELECT pg_advisory_lock(%s)", (key,))
    try:
        yield
    finally:
        if not connection.broken:
            connection.execute("SELECT pg_advisory_unlock(%s)", (key,))
