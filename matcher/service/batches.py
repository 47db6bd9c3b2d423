"""Batch jobs of the service: each runs on a worker thread, its state is kept in the store (it
survives restarts) and its result under MATCHER_HOME/batches/<id>/. A job that was running when
the service stopped is reported as failed with that reason, never lost silently.

Results are kept for a retention period (`Config.result_retention_days`, 30 days by default) and
then removed; the job answers that it has expired. Erasure removes a profile from every kept
result that names it: the store records which profiles each result names (`JobStore.hold`), so an
erasure rewrites only those results, and only their `result.json` (`matcher.export.results`).

With MATCHER_DASK set (`dask`: local, local:N or tcp://HOST:PORT), each job's top-k runs on that
Dask cluster (`matcher.service.cluster`): a local one is started for the job and stopped after it.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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
from matcher.store.jobs import JobStore

__all__ = ["DEFAULT_RETENTION_DAYS", "INTERRUPTED", "BatchJobs"]

log = logging.getLogger("matcher.batches")

INTERRUPTED = "the service stopped while this job was running; start it again"
DEFAULT_RETENTION_DAYS = 30.0
_KEPT = ("queued", "running", "done")  # statuses whose folder may hold a result


class BatchJobs:
    """`retention_days` <= 0 keeps results for ever; `dask` (MATCHER_DASK) sends the jobs' top-k to
    a Dask cluster."""

    def __init__(
        self, jobs: JobStore, root: Path, *, retention_days: float = DEFAULT_RETENTION_DAYS, dask: str | None = None
    ):
        self.jobs = jobs
        self.root = root
        self.retention_days = retention_days
        self.dask = dask
        self._workers: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def start(
        self, corpus: Callable[[], Corpus], request: BatchRequest, described: dict[str, Any], key_id: str | None
    ) -> dict[str, Any]:
        """Queue a batch over the matching state `corpus()` gives when it runs; its status now."""
        cluster = self._cluster()
        self.sweep()
        job_id = self.jobs.create(described, key_id)

        def work() -> None:
            try:
                result = self._run(corpus(), request, lambda done, total: self.jobs.progress(job_id, done, total),
                                   cluster)
                self.finish(job_id, result)
            except Exception as err:  # the job fails with a message; the service goes on
                log.error("batch job %s failed: %s", job_id, type(err).__name__)
                self.jobs.fail(job_id, str(err) or type(err).__name__)

        with self._lock:
            if self._workers is None:
                self._workers = ThreadPoolExecutor(max_workers=1, thread_name_prefix="batch")
            self._workers.submit(work)
        return self.jobs.get(job_id)

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
        self.jobs.finish(job_id, result.summary())

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
        if not (self.root / job_id / "result.json").exists():  # another kind of job (an agenda)
            raise JobNotFound(job_id)
        return read_result(self.root / job_id)

    def result_file(self, job_id: str, name: str) -> Path:
        self.result(job_id)
        return rendered(self.root / job_id, name)

    def fail_interrupted(self) -> int:
        """At start-up: jobs left queued or running by a stopped service are failed, with the
        reason; then the kept results are swept (`sweep`)."""
        unfinished = self.jobs.unfinished()
        for job_id in unfinished:
            self.jobs.fail(job_id, INTERRUPTED)
        self.sweep()
        return len(unfinished)

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
        for job_id in self.jobs.unindexed():
            try:
                self.jobs.hold(job_id, result_ids(read_result(self.root / job_id)))
            except (OSError, ValueError, KeyError) as err:
                log.warning("batch job %s: its result cannot be read (%s)", job_id, type(err).__name__)

    def forget_profile(self, profile_id: str) -> int:
        """Erasure: drop a profile's rows from every kept result naming it, and its id from the
        jobs' records; how many results were rewritten."""
        self.sweep()
        scrubbed = sum(scrub_profile(self.root / job_id, profile_id) for job_id in self.jobs.holding(profile_id))
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

    def _past_retention(self, job: dict[str, Any]) -> bool:
        finished = job.get("finished_at")
        if self.retention_days <= 0 or job["status"] not in ("done", "failed") or not finished:
            return False
        at = datetime.strptime(str(finished), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
        return time.time() - at > self.retention_days * 86400

    def _expire(self, job_id: str) -> None:
        self.jobs.expire(job_id, f"expired: results are kept for {self.retention_days:g} days after they finish")
        shutil.rmtree(self.root / job_id, ignore_errors=True)
