"""Oversize inputs through the real command line: a 2 GiB sparse ``.jsonl`` and a 2 GiB sparse
``.csv`` (zero bytes and no line break, as ``truncate -s 2G`` makes them), each ingested by
``python -m matcher ingest`` into a fresh store in its own process.

`oversize()` gives the largest peak RSS of those processes and whether each ended with one clear
error: exit code 1, a message naming the bound, no traceback. The peak is the high-water mark
(VmHWM) of the process and its children, sampled every 20 ms while it runs: `wait4`'s ru_maxrss
would also count the memory of the process that started it (Linux carries the parent's resident
set over fork and exec into the child's figure).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIZE = 2 << 30

__all__ = ["IngestRun", "clear_error", "ingest_run", "oversize"]


@dataclass(frozen=True)
class IngestRun:
    """How one `matcher ingest` process ended."""

    returncode: int
    stdout: str
    stderr: str
    peak_rss_gib: float
    seconds: float


def ingest_run(*args: str, home: Path, timeout: float = 120.0) -> IngestRun:
    """Run ``python -m matcher ingest ARGS`` on the store at `home`, sampling its peak RSS (see the
    module). A run past `timeout` is killed and reported with return code -9."""
    env = {**os.environ, "MATCHER_HOME": str(home), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, "-m", "matcher", "ingest", *args], cwd=ROOT, env=env, stdout=out, stderr=err
        )
        peak = 0
        while True:
            peak = max(peak, _tree_hwm_kib(process.pid))
            pid, status, _ = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - started > timeout:
                process.kill()
            time.sleep(0.02)
        process.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        return IngestRun(process.returncode, out.read(), err.read(), peak / 2**20, seconds)


def _tree_hwm_kib(pid: int) -> int:
    """VmHWM of `pid` plus its descendants' (KiB); 0 for a process that is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        children = [int(c) for t in Path(f"/proc/{pid}/task").iterdir()
                    for c in (t / "children").read_text().split()]
    except (OSError, ValueError):
        return 0
    own = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)
    return own + sum(_tree_hwm_kib(c) for c in children)


def clear_error(run: IngestRun, *words: str) -> bool:
    """Whether the run ended with exit code 1 and one error line holding `words`, no traceback."""
    errors = [line for line in run.stderr.splitlines() if line.startswith("error: ")]
    return (
        run.returncode == 1 and "Traceback" not in run.stderr and len(errors) == 1
        and all(w in errors[0] for w in words)
    )


def oversize() -> dict[str, object]:
    runs: list[tuple[IngestRun, bool]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name in ("oversize.jsonl", "oversize.csv"):
            path = folder / name
            with path.open("wb") as fh:
                fh.truncate(SIZE)
            run = ingest_run(str(path), home=folder / f"store-{path.suffix[1:]}")
            runs.append((run, clear_error(run, name, "line 1 is longer than 4 MiB")))
            path.unlink()
    return {
        "oversize_inputs_peak_rss_gib": round(max(run.peak_rss_gib for run, _ in runs), 3),
        "oversize_inputs_clear_errors": all(clear for _, clear in runs),
    }


if __name__ == "__main__":
    print(oversize())
