"""Batch jobs of the service: each runs on a worker thread, its state is kept in the store (it
survives restarts) and its result under MATCHER_HOME/batches/<id>/. A job that was running when
the service stopped is reported as failed with that reason, never lost silently.

On a shared store (PostgreSQL, with a `JobQueue`) a job is only enqueued here, with its plan (the
request, serialised); a `matcher worker` process claims and runs it (`matcher.service.worker`) and
keeps its `result.json` in the database, not on its disk. Every replica reads the result from
there; a rendered file is made for one download in a folder of its own (`result_file`) and
removed once sent (`release_file`). An erasure rewrites the kept result in the database under a
row lock, so no copy anywhere keeps the profile.

Results are kept for a retention period (`Config.result_retention_days`, 30 days by default) and
then removed; the job answers that it has expired. Erasure removes a profile from every kept
result that names it: the store records which profiles each result names (`JobStore.hold`), so an
erasure rewrites only those results, and only their `result.json` (`matcher.export.results`).

With MATCHER_DASK set (`dask`: local, local:N or tcp://HOST:PORT), each job's top-k runs on that
Dask cluster (`matcher.service.cluster`): a local one is started for the job and stopped after it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from matcher.assign.exposure import FairTopk
from matcher.assign.programme import BatchRequest, BatchResult, run_batch
from matcher.domain.errors import InvalidQuery, JobExpired, JobNotFound, MatcherError
from matcher.export.results import (
    folder_lock,
    read_result,
    rendered,
    result_data,
    result_ids,
    scrub_profile,
    without_profiles,
    write_data,
)
from matcher.index.corpus import Corpus
from matcher.service.cluster import DaskTarget, dask_client, parse_dask
from matcher.store.atomic import write_bytes_atomic
from matcher.store.jobs import JobStore

if TYPE_CHECKING:
    from matcher.store.queue import JobQueue

__all__ = ["ABANDONED", "DEFAULT_RETENTION_DAYS", "INTERRUPTED", "BatchJobs", "plan_from_json", "plan_to_json"]

log = logging.getLogger("matcher.batches")

INTERRUPTED = "the service stopped while this job was running; start it again"
ABANDONED = "the worker running this job stopped; start it again"
DEFAULT_RETENTION_DAYS = 30.0
_KEPT = ("queued", "running", "done")  # statuses whose folder may hold a result


class BatchJobs:
    """`retention_days` <= 0 keeps results for ever; `dask` (MATCHER_DASK) sends the jobs' top-k to
    a Dask cluster."""

    def __init__(
        self, jobs: JobStore, root: Path, *, retention_days: float = DEFAULT_RETENTION_DAYS,
        queue: JobQueue | None = None, dask: str | None = None,
    ):
        self.jobs = jobs
        self.root = root
        self.retention_days = retention_days
        self.queue = queue
        self.dask = dask
        self._workers: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def start(
        self, corpus: Callable[[], Corpus], request: BatchRequest, described: dict[str, Any], key_id: str | None
    ) -> dict[str, Any]:
        """Queue a batch over the matching state `corpus()` gives when it runs; its status now."""
        self._cluster()  # a wrong MATCHER_DASK fails here, before a job exists
        self.sweep()
        job_id = self.jobs.create(described, key_id)
        if self.queue is not None:  # a worker process runs it
            self.queue.enqueue(job_id, plan_to_json(request))
            return self.jobs.get(job_id)

        def work() -> None:
            self.run(job_id, corpus, request)

        with self._lock:
            if self._workers is None:
                self._workers = ThreadPoolExecutor(max_workers=1, thread_name_prefix="batch")
            self._workers.submit(work)
        return self.jobs.get(job_id)

    def run(self, job_id: str, corpus: Callable[[], Corpus], request: BatchRequest) -> None:
        """Run a job to its end: done with its result kept, or failed with the reason."""
        try:
            def progress(done: int, total: int) -> None:
                self.jobs.progress(job_id, done, total)

            result = self._run(corpus(), request, progress, self._cluster())
            self.finish(job_id, result)
        except Exception as err:  # the job fails with a message; the service goes on
            log.error("batch job %s failed: %s", job_id, type(err).__name__)
            self.jobs.fail(job_id, str(err) or type(err).__name__)

    def _cluster(self) -> DaskTarget | None:
        try:
            return None if self.dask is None else parse_dask(self.dask)
        except InvalidQuery as err:
            raise InvalidQuery(f"the service's MATCHER_DASK setting is wrong: {err}") from None

    @staticmethod
    def _run(
        corpus: Corpus, request: BatchRequest, progress: Callable[[int, int], None], cluster: DaskTarget | None
    ) -> BatchResult:
        if cluster is None:
            return run_batch(corpus, request, progress)
        with dask_client(cluster) as client:
            return run_batch(corpus, request, progress, client=client)

    def finish(self, job_id: str, result: BatchResult) -> None:
        """Keep the result: its holders first, then its files without any profile erased meanwhile
        (under the folder's lock, which an erasure's scrub takes too), then the job is done."""
        data = result_data(result)
        ids = sorted(result_ids(data))
        self.jobs.hold(job_id, ids)
        folder = self.root / job_id
        with self.jobs.store.space.writing():
            folder.mkdir(parents=True, exist_ok=True)
            with folder_lock(folder):
                gone = set(ids) - set(self.jobs.store.content_hashes(ids))
                write_data(without_profiles(data, gone), folder)
                if self.queue is not None:
                    self.queue.put_result(job_id, (folder / "result.json").read_bytes())
        if self.queue is not None:
            shutil.rmtree(folder, ignore_errors=True)  # the database keeps it
            # a profile erased after `gone` was read: its erasure may have looked before the result
            # was there, so look again now that it is (one of the two sees the other)
            for late in set(ids) - gone - set(self.jobs.store.content_hashes(ids)):
                self._scrub_shared(job_id, late)
        self.jobs.finish(job_id, result.summary())

    def _scrub_shared(self, job_id: str, profile_id: str) -> bool:
        """Rewrite a result kept in the database without a profile (under its row lock)."""
        def without(raw: bytes) -> bytes | None:
            with tempfile.TemporaryDirectory(dir=self._serving()) as tmp:
                write_bytes_atomic(Path(tmp) / "result.json", raw)
                return (Path(tmp) / "result.json").read_bytes() if scrub_profile(Path(tmp), profile_id) else None

        return self.queue.rewrite_result(job_id, without) if self.queue is not None else False

    def _serving(self) -> Path:
        """Where a shared store's results are rendered for one download (beside `root`, not in it)."""
        folder = self.root.with_name(self.root.name + "-serving")
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def get(self, job_id: str) -> dict[str, Any]:
        job = self.jobs.get(job_id)
        if self._past_retention(job):
            self._expire(job_id)
            job = self.jobs.get(job_id)
        return job

    def result(self, job_id: str) -> dict[str, Any]:
        job = self.get(job_id)
        if job["status"] == "expired":
            raise JobExpired(job_id, self.retention_days)
        if job["status"] != "done":
            raise MatcherError(f"batch job '{job_id}' is {job['status']}, it has no result")
        if self.queue is not None:
            found = self.queue.get_result(job_id)
            if found is None:  # another kind of job (an agenda)
                raise JobNotFound(job_id)
            return orjson.loads(found[1])  # type: ignore[no-any-return]
        if not (self.root / job_id / "result.json").exists():  # another kind of job (an agenda)
            raise JobNotFound(job_id)
        return read_result(self.root / job_id)

    def result_file(self, job_id: str, name: str) -> Path:
        """A rendered file of the result. On a shared store it is made in a folder of its own for
        this one download: pass the path to `release_file` once it is sent."""
        data = self.result(job_id)
        if self.queue is None:
            return rendered(self.root / job_id, name)
        folder = Path(tempfile.mkdtemp(prefix=f"{job_id}-", dir=self._serving()))
        write_bytes_atomic(folder / "result.json", orjson.dumps(data))
        return rendered(folder, name)

    def release_file(self, path: Path) -> None:
        """A download from `result_file` was sent: its folder goes (a shared store's only)."""
        if self.queue is not None and path.parent.parent == self._serving():
            shutil.rmtree(path.parent, ignore_errors=True)

    def fail_interrupted(self) -> int:
        """At start-up: jobs left queued or running by a stopped service are failed, with the
        reason; then the kept results are swept (`sweep`). On a shared store only jobs whose
        worker is gone are (queued ones wait for a worker; running ones may be another's)."""
        if self.queue is not None:
            shutil.rmtree(self._serving(), ignore_errors=True)  # downloads a stopped process left
            return self.fail_abandoned()
        unfinished = self.jobs.unfinished()
        for job_id in unfinished:
            self.jobs.fail(job_id, INTERRUPTED)
        self.sweep()
        return len(unfinished)

    def fail_abandoned(self) -> int:
        """Shared store: jobs marked running whose worker stopped are failed, with the reason."""
        gone = self.queue.abandoned() if self.queue is not None else []
        for job_id in gone:
            self.jobs.fail(job_id, ABANDONED)
        self.sweep()
        return len(gone)

    def sweep(self) -> None:
        """Remove results past the retention period, folders no kept job owns (failed or expired
        jobs) and the temporary files a crash left in the others, and index results kept without
        their holders."""
        if self.retention_days > 0:
            for job_id in self.jobs.finished_before(self.retention_days):
                self._expire(job_id)
        if self.root.exists():
            statuses = self.jobs.statuses()
            for folder in self.root.iterdir():
                if folder.is_dir() and statuses.get(folder.name) not in _KEPT:
                    shutil.rmtree(folder, ignore_errors=True)
                elif folder.is_dir() and any(folder.glob(".*.tmp")):
                    with folder_lock(folder):  # every writer of a result holds it: no write is under way
                        for stray in folder.glob(".*.tmp"):
                            stray.unlink(missing_ok=True)
        for job_id in [] if self.queue is not None else self.jobs.unindexed():  # a worker records them first
            try:
                self.jobs.hold(job_id, result_ids(read_result(self.root / job_id)))
            except (OSError, ValueError, KeyError) as err:
                log.warning("batch job %s: its result cannot be read (%s)", job_id, type(err).__name__)

    def forget_profile(self, profile_id: str) -> int:
        """Erasure: drop a profile's rows from every kept result naming it, and its id from the
        jobs' records; how many results were rewritten."""
        self.sweep()
        holding = self.jobs.holding(profile_id)
        if self.queue is not None:
            scrubbed = sum(self._scrub_shared(job_id, profile_id) for job_id in holding)
        else:
            scrubbed = sum(scrub_profile(self.root / job_id, profile_id) for job_id in holding)
        self.jobs.forget(profile_id)
        return scrubbed

    def delete(self, job_id: str) -> None:
        self.jobs.delete(job_id)
        shutil.rmtree(self.root / job_id, ignore_errors=True)

    def close(self) -> None:
        with self._lock:
            if self._workers is not None:
                self._workers.shutdown(wait=False, cancel_futures=True)
                self._workers = None
        if self.queue is not None:
            self.queue.close()

    def _past_retention(self, job: dict[str, Any]) -> bool:
        finished = job.get("finished_at")
        if self.retention_days <= 0 or job["status"] not in ("done", "failed") or not finished:
            return False
        at = datetime.strptime(str(finished), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
        return time.time() - at > self.retention_days * 86400

    def _expire(self, job_id: str) -> None:
        self.jobs.expire(job_id, f"expired: results are kept for {self.retention_days:g} days after they finish")
        if self.queue is not None:
            self.queue.drop_result(job_id)
        shutil.rmtree(self.root / job_id, ignore_errors=True)


def plan_to_json(request: BatchRequest) -> str:
    """A batch request as JSON (sets as sorted lists), for a worker to run."""
    def plain(value: Any) -> Any:
        if isinstance(value, frozenset | set):
            return sorted(value)
        if isinstance(value, tuple | list):
            return [plain(v) for v in value]
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return value

    return json.dumps({f.name: plain(getattr(request, f.name)) for f in dataclasses.fields(request)}, sort_keys=True)


def plan_from_json(text: str) -> BatchRequest:
    data = json.loads(text)
    sides = data.get("sides")
    return BatchRequest(
        mode=data["mode"], k=data["k"], capacity=data["capacity"], pool=tuple(data["pool"]),
        pool_countries=None if data["pool_countries"] is None else frozenset(data["pool_countries"]),
        exclude_countries=frozenset(data["exclude_countries"]), cross_border=data["cross_border"],
        exclude_conflicts=data["exclude_conflicts"],
        sides=None if sides is None else (frozenset(sides[0]), frozenset(sides[1])),
        side_names=(data["side_names"][0], data["side_names"][1]), memory_bytes=data["memory_bytes"],
        min_score=data["min_score"],
        fair=None if not data.get("fair") else FairTopk(
            cap=data["fair"]["cap"], prefer_countries=frozenset(data["fair"]["prefer_countries"]),
            prefer_weight=data["fair"]["prefer_weight"], prefer_names=tuple(data["fair"]["prefer_names"]),
        ),
    )
