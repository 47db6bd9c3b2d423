"""Batch jobs of the service: each runs on a worker thread, its state is kept in the store (it
survives restarts) and its result under MATCHER_HOME/batches/<id>/. A job that was running when
the service stopped is reported as failed with that reason, never lost silently. Erasure removes
a profile from every kept result."""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from matcher.assign.programme import BatchRequest, BatchResult, run_batch
from matcher.domain.errors import MatcherError
from matcher.export.results import read_result, scrub_profile, write_result
from matcher.index.corpus import Corpus
from matcher.store.jobs import JobStore

__all__ = ["INTERRUPTED", "BatchJobs"]

log = logging.getLogger("matcher.batches")

INTERRUPTED = "the service stopped while this job was running; start it again"


class BatchJobs:
    def __init__(self, jobs: JobStore, root: Path):
        self.jobs = jobs
        self.root = root
        self._workers: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def start(
        self, corpus: Callable[[], Corpus], request: BatchRequest, described: dict[str, Any], key_id: str | None
    ) -> dict[str, Any]:
        """Queue a batch over the matching state `corpus()` gives when it runs; its status now."""
        job_id = self.jobs.create(described, key_id)

        def work() -> None:
            try:
                result = run_batch(corpus(), request, lambda done, total: self.jobs.progress(job_id, done, total))
                self.finish(job_id, result)
            except Exception as err:  # the job fails with a message; the service goes on
                log.error("batch job %s failed: %s", job_id, type(err).__name__)
                self.jobs.fail(job_id, str(err) or type(err).__name__)

        with self._lock:
            if self._workers is None:
                self._workers = ThreadPoolExecutor(max_workers=1, thread_name_prefix="batch")
            self._workers.submit(work)
        return self.jobs.get(job_id)

    def finish(self, job_id: str, result: BatchResult) -> None:
        write_result(result, self.root / job_id)
        self.jobs.finish(job_id, result.summary())

    def get(self, job_id: str) -> dict[str, Any]:
        return self.jobs.get(job_id)

    def result(self, job_id: str) -> dict[str, Any]:
        job = self.jobs.get(job_id)
        if job["status"] != "done":
            raise MatcherError(f"batch job '{job_id}' is {job['status']}, it has no result")
        return read_result(self.root / job_id)

    def result_file(self, job_id: str, name: str) -> Path:
        self.result(job_id)
        return self.root / job_id / name

    def fail_interrupted(self) -> int:
        """At start-up: jobs left queued or running by a stopped service are failed, with the reason."""
        unfinished = self.jobs.unfinished()
        for job_id in unfinished:
            self.jobs.fail(job_id, INTERRUPTED)
        return len(unfinished)

    def forget_profile(self, profile_id: str) -> None:
        """Erasure: drop a profile's rows from every kept result."""
        if self.root.exists():
            for directory in self.root.iterdir():
                scrub_profile(directory, profile_id)

    def delete(self, job_id: str) -> None:
        self.jobs.delete(job_id)
        shutil.rmtree(self.root / job_id, ignore_errors=True)

    def close(self) -> None:
        with self._lock:
            if self._workers is not None:
                self._workers.shutdown(wait=False, cancel_futures=True)
                self._workers = None
