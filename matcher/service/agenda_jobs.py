"""Agenda jobs of the service: each plans a matchmaking day on a worker thread; its state is kept in
the store's job table, its files under MATCHER_HOME/agendas/<id>/ (`agenda.json` and the rendered
files of `matcher.export.agenda`). A folder marks the job as an agenda job."""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson

from matcher.assign.agenda import Event, MeetingRequest
from matcher.domain.errors import JobNotFound, MatcherError
from matcher.export.agenda import write_agenda
from matcher.index.corpus import Corpus
from matcher.service.agendas import agenda_data, run_agenda
from matcher.store.atomic import write_bytes_atomic
from matcher.store.jobs import JobStore

__all__ = ["ERASED", "AgendaJobs", "forget_in_agendas"]

log = logging.getLogger("matcher.agendas")
ERASED = "this agenda was removed: it named a profile that has since been erased"


def forget_in_agendas(root: Path, profile_id: str) -> int:
    """Erasure: every kept agenda that names the profile loses its files (the job stays, without a
    result); how many were removed."""
    removed = 0
    for data in sorted(root.glob("*/agenda.json")) if root.exists() else []:
        try:
            result = orjson.loads(data.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            result = None
        rows = [] if result is None else [*result.get("meetings", []), *result.get("unscheduled", [])]
        if result is None or any(profile_id in (r.get("participant_a"), r.get("participant_b"), r.get("requester_id"),
                                                r.get("target_id")) for r in rows):
            _clear(data.parent)
            removed += 1
    return removed


def _clear(folder: Path) -> None:
    """Every file of an agenda but its marker."""
    for path in sorted(folder.rglob("*"), reverse=True):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        elif path.name != "request.json":
            path.unlink(missing_ok=True)


class AgendaJobs:
    def __init__(self, jobs: JobStore, root: Path, *, time_limit_s: float = 20.0):
        self.jobs = jobs
        self.root = root
        self.time_limit_s = time_limit_s
        self._workers: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def start(self, corpus: Callable[[], Corpus], event: Event, requests: Sequence[MeetingRequest],
              participants: Sequence[str], described: dict[str, Any], key_id: str | None) -> dict[str, Any]:
        job_id = self.jobs.create({"kind": "agenda", **described}, key_id)
        folder = self.root / job_id
        write_bytes_atomic(folder / "request.json", orjson.dumps({"kind": "agenda", **described}))

        def work() -> None:
            try:
                self.jobs.progress(job_id, 0, 1)
                run = run_agenda(corpus(), event, requests, participants, time_limit_s=self.time_limit_s)
                data = agenda_data(run)
                write_agenda(run.agenda, event, run.people, folder)
                write_bytes_atomic(folder / "agenda.json", orjson.dumps(data))
                s = data["summary"]
                self.jobs.finish(job_id, f"{s['meetings']} meetings ({s['requested_meetings']} requested), "
                                         f"{s['unscheduled']} requests left out; gap {s['gap']:.3f}")
            except Exception as err:  # the job fails with a message; the service goes on
                log.error("agenda job %s failed: %s", job_id, type(err).__name__)
                self.jobs.fail(job_id, str(err) or type(err).__name__)

        with self._lock:
            if self._workers is None:
                self._workers = ThreadPoolExecutor(max_workers=1, thread_name_prefix="agenda")
            self._workers.submit(work)
        return self.jobs.get(job_id)

    def get(self, job_id: str) -> dict[str, Any]:
        if not (self.root / job_id / "request.json").exists():
            raise JobNotFound(job_id)
        job = self.jobs.get(job_id)
        if job["status"] == "expired":  # past the retention period of kept results
            _clear(self.root / job_id)
        return job

    def result(self, job_id: str) -> dict[str, Any]:
        job = self.get(job_id)
        if job["status"] != "done":
            raise MatcherError(f"agenda job '{job_id}' is {job['status']}, it has no result")
        if not (self.root / job_id / "agenda.json").exists():
            raise MatcherError(ERASED)
        return orjson.loads((self.root / job_id / "agenda.json").read_bytes())  # type: ignore[no-any-return]

    def result_file(self, job_id: str, name: str) -> Path:
        self.result(job_id)
        path = (self.root / job_id / name).resolve()
        if not path.is_relative_to((self.root / job_id).resolve()) or not path.is_file():
            raise JobNotFound(f"{job_id}/{name}")
        return path

    def close(self) -> None:
        with self._lock:
            if self._workers is not None:
                self._workers.shutdown(wait=False, cancel_futures=True)
                self._workers = None
