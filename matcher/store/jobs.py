"""Batch jobs kept by the service: state in the store (survives restarts), results under
MATCHER_HOME/batches/<id>/. A job that was running when the service stopped is reported as failed
with that reason, never lost silently. Erasure removes a profile from every kept result."""

from __future__ import annotations

import json
import secrets
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

from matcher.store.atomic import write_text_atomic
from matcher.export.report import PairRow, UnmatchedRow, write_outputs
from matcher.domain.errors import MatcherError
from matcher.assign.programme import BatchResult
from matcher.store.sqlite import Store

__all__ = ["JobNotFound", "JobStore", "write_result"]

INTERRUPTED = "the service stopped while this job was running; start it again"
_DDL = """
CREATE TABLE IF NOT EXISTS batch_jobs (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    done INTEGER NOT NULL DEFAULT 0,
    total INTEGER NOT NULL DEFAULT 0,
    request TEXT NOT NULL,
    summary TEXT,
    error TEXT,
    key_id TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    finished_at TEXT
);
"""


class JobNotFound(MatcherError):
    def __init__(self, job_id: str):
        super().__init__(f"no batch job '{job_id}'")


def write_result(result: BatchResult, directory: Path) -> dict[str, Path]:
    """result.json (the source of truth) plus pairs.csv, pairs.parquet, unmatched.csv, report.html."""
    directory.mkdir(parents=True, exist_ok=True)
    data = {
        "mode": result.mode,
        "pairs": [asdict(p) for p in result.pairs],
        "unmatched": [{"applicant_id": a, "wanted": w, "matched": m, "reason": r} for a, w, m, r in result.unmatched],
        "countries": result.countries,
        "capacity_use": {k: list(v) for k, v in result.capacity_use.items()},
        "summary": result.summary(),
    }
    write_text_atomic(directory / "result.json", json.dumps(data, ensure_ascii=False))
    return _render(data, directory)


def _render(data: dict[str, Any], directory: Path) -> dict[str, Path]:
    paths = write_outputs(
        [PairRow(**p) for p in data["pairs"]],
        [UnmatchedRow(**u) for u in data["unmatched"]],
        data["countries"],
        {k: (v[0], v[1]) for k, v in data["capacity_use"].items()},
        directory,
    )
    return {**paths, "result.json": directory / "result.json"}


class JobStore:
    def __init__(self, store: Store):
        self.store = store
        self.root = store.home / "batches"
        store.ensure_schema(_DDL)

    def create(self, request: dict[str, Any], key_id: str | None = None) -> str:
        job_id = secrets.token_hex(6)
        self.store.execute("INSERT INTO batch_jobs(id, status, request, key_id) VALUES (?, 'queued', ?, ?)",
                           (job_id, json.dumps(request, sort_keys=True), key_id))
        return job_id

    def progress(self, job_id: str, done: int, total: int) -> None:
        self.store.execute("UPDATE batch_jobs SET status='running', done=?, total=? WHERE id=?", (done, total, job_id))

    def finish(self, job_id: str, result: BatchResult) -> None:
        write_result(result, self.root / job_id)
        self.store.execute(
            "UPDATE batch_jobs SET status='done', done=total, summary=?, "
            "finished_at=strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id=?", (result.summary(), job_id))

    def fail(self, job_id: str, error: str) -> None:
        self.store.execute(
            "UPDATE batch_jobs SET status='failed', error=?, finished_at=strftime('%Y-%m-%dT%H:%M:%SZ', 'now') "
            "WHERE id=?", (error, job_id))

    def fail_interrupted(self) -> int:
        """At start-up: jobs left queued or running by a stopped service are failed, with the reason."""
        rows = self.store.execute("SELECT id FROM batch_jobs WHERE status IN ('queued', 'running')")
        for (job_id,) in rows:
            self.fail(str(job_id), INTERRUPTED)
        return len(rows)

    def get(self, job_id: str) -> dict[str, Any]:
        rows = self.store.query(
            "SELECT id, status, done, total, summary, error, created_at, finished_at FROM batch_jobs WHERE id=?",
            (job_id,))
        if not rows:
            raise JobNotFound(job_id)
        i, status, done, total, summary, error, created, finished = rows[0]
        return {"id": i, "status": status, "progress": {"done": done, "total": total}, "summary": summary,
                "error": error, "created_at": created, "finished_at": finished}

    def result(self, job_id: str) -> dict[str, Any]:
        job = self.get(job_id)
        if job["status"] != "done":
            raise MatcherError(f"batch job '{job_id}' is {job['status']}, it has no result")
        return json.loads((self.root / job_id / "result.json").read_text())  # type: ignore[no-any-return]

    def result_file(self, job_id: str, name: str) -> Path:
        self.result(job_id)
        return self.root / job_id / name

    def forget_profile(self, profile_id: str) -> None:
        """Erasure: drop a profile's rows from every kept result and re-render the outputs."""
        if not self.root.exists():
            return
        for directory in self.root.iterdir():
            path = directory / "result.json"
            if not path.exists():
                continue
            data = json.loads(path.read_text())
            if profile_id not in data["countries"]:
                continue
            data["pairs"] = [p for p in data["pairs"] if profile_id not in (p["applicant_id"], p["partner_id"])]
            data["unmatched"] = [u for u in data["unmatched"] if u["applicant_id"] != profile_id]
            data["countries"].pop(profile_id, None)
            data["capacity_use"].pop(profile_id, None)
            write_text_atomic(path, json.dumps(data, ensure_ascii=False))
            _render(data, directory)

    def delete(self, job_id: str) -> None:
        self.get(job_id)
        shutil.rmtree(self.root / job_id, ignore_errors=True)
        self.store.execute("DELETE FROM batch_jobs WHERE id=?", (job_id,))
