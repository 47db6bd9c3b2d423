"""Decode a large OpenAlex JSON Lines file in several processes.

Decoding JSON and rebuilding abstracts are most of the cost of reading OpenAlex works (a work
record is 5-20 kB), and both hold the GIL, so threads do not help. `parallel_records` splits the
file into byte ranges cut at line boundaries; each helper process decodes its ranges (work lines
through `matcher.ingest.openalex_records.decode_work`, as in one process) into compact
`WorkRow` tuples, which are cheap to send back as `marshal` bytes of builtin types (never
pickles of objects). The calling process decodes every few ranges itself (it also builds the
profiles from all of them, so its ranges are smaller: see `schedule`) and takes the helpers'
ranges in file order, yielding exactly what the single-process reader would see: (line, item)
pairs where item is a `WorkRow`, a `RecordProblem`, a `Rejection` for a line that is not JSON,
or the decoded object for anything else (author records, API pages). Only uncompressed JSON
Lines files are split; for anything else `parallel_records` returns None and the caller reads
in one process.

Helpers are fresh interpreters running `serve` on the file, fed byte ranges on stdin: nothing
of the calling process is inherited (no forked locks or threads, no re-run of the caller's
``__main__``), so this is safe from a server or a notebook as well as the CLI.
"""

from __future__ import annotations

import gc
import marshal
import os
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from matcher.domain.errors import MatcherError
from matcher.ingest.bounds import DEFAULT_LIMITS, ReadLimits, skip_line, too_long
from matcher.ingest.files import Location, expand, is_json_lines, reread_line, text_lines
from matcher.ingest.openalex_records import RecordProblem, WorkRow, decode_work, record_kind, work_row_or_problem
from matcher.ingest.readers import Rejection

__all__ = [
    "CHUNK_BYTES", "PARALLEL_BYTES", "auto_workers", "decode_range", "idle_cpus", "parallel_records", "schedule",
    "serve",
]

PARALLEL_BYTES = 64 << 20  # files smaller than this are read in one process
CHUNK_BYTES = 8 << 20
BLOCK_BYTES = 4 << 20  # read at a time within a range (see `text_lines`)
OWN_SHARE = 0.5  # of a chunk, for the calling process's ranges (0.3-1.0 measured, 0.5 best): see `schedule`
FIRST_CHUNKS = 4  # the calling process's first range, while the helpers start (~0.15 s each)
MAX_WORKERS = 4
_HEADER = struct.Struct("<QQ")  # lines counted, length of the marshalled items
_WORKER = "import sys; from matcher.ingest.parallel import serve; serve(sys.argv[1], int(sys.argv[2]))"


def auto_workers(path: Path) -> int:
    """How many processes to decode `path` with: one for a small or compressed file; else as
    many CPUs as are idle now (`idle_cpus`), at most `MAX_WORKERS`. On a busy machine helpers
    mostly compete with other processes for the same CPUs (on a loaded 2-core machine two
    processes measured from 20% slower to 25% faster than one), so it stays in one there."""
    try:
        size = path.stat().st_size
    except OSError:
        return 1
    if path.suffix == ".gz" or size < PARALLEL_BYTES:
        return 1
    return max(1, min(MAX_WORKERS, round(idle_cpus())))


def _cpu_times() -> tuple[int, int]:
    """(idle, total) clock ticks of all CPUs since boot, from the first line of /proc/stat."""
    with open("/proc/stat", "rb") as fh:
        ticks = [int(t) for t in fh.readline().split()[1:]]
    return ticks[3] + ticks[4], sum(ticks[:8])  # idle + iowait; guest time is inside user time


def idle_cpus(interval: float = 0.05) -> float:
    """How many of the CPUs this process may use are idle: measured over `interval` seconds
    from /proc/stat, while this process sleeps (so its own work does not count, as it would in
    the load average); elsewhere the CPUs less the 1-minute load average."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        idle0, total0 = _cpu_times()
        time.sleep(interval)
        idle1, total1 = _cpu_times()
    except (OSError, ValueError, IndexError):
        return max(0.0, cpus - os.getloadavg()[0]) if hasattr(os, "getloadavg") else float(cpus)
    if total1 <= total0:
        return float(cpus)
    return min(float(cpus), (os.cpu_count() or cpus) * (idle1 - idle0) / (total1 - total0))


# What a worker sends back per line, as (line, tag, payload) of builtin types only, so that it
# travels as `marshal` bytes (fast, and unlike pickle it cannot run code when loaded).
_ROW, _PROBLEM, _NOT_JSON, _OBJECT = range(4)


def _decode(line: bytes | memoryview | None, text: bool, max_line: int) -> tuple[int, Any] | None:
    """(tag, payload) for one line, None for a blank one. `text`: the line is valid UTF-8; a line
    is None when it was longer than `max_line` (see `text_lines`)."""
    if line is None:
        return _NOT_JSON, too_long(max_line)
    row = decode_work(line) if text else None
    if row is None:
        try:
            doc = orjson.loads(line)
        except ValueError:
            if not (line := bytes(line)).strip():
                return None
            doc, problem = reread_line(line)
            if problem is not None:
                return _NOT_JSON, problem
        if type(doc) is not dict or "results" in doc or record_kind(doc) != "work":
            return _OBJECT, doc
        row = work_row_or_problem(doc)
    if isinstance(row, RecordProblem):
        return _PROBLEM, (row.reason, row.record_id, row.field)
    return _ROW, tuple(row)


def _decoded_range(
    path: str, start: int, end: int, buffer: bytearray | None = None, max_line: int = DEFAULT_LIMITS.line_bytes
) -> tuple[int, list[tuple[int, int, Any]]]:
    """(lines counted, [(line within the range, tag, payload)]) for the lines that start in
    bytes [start, end) of the file; `buffer`: see `text_lines` (one per process, reused)."""
    items: list[tuple[int, int, Any]] = []
    number = 0
    with open(path, "rb") as fh:
        if start:
            fh.seek(start - 1)
            if fh.read(1) != b"\n":
                skip_line(fh)  # the line in progress belongs to the previous range
        for line, text in text_lines(fh, end - fh.tell(), buffer, max_line):
            number += 1
            if (item := _decode(line, text, max_line)) is not None:
                items.append((number, *item))
    return number, items


def decode_range(
    path: str, start: int, end: int, buffer: bytearray | None = None, max_line: int = DEFAULT_LIMITS.line_bytes
) -> tuple[int, bytes]:
    """`_decoded_range`, its items marshalled. Runs in a worker process."""
    gc.disable()  # the items are kept until returned; see matcher.ingest.files.gc_paused
    count, items = _decoded_range(path, start, end, buffer, max_line)
    return count, marshal.dumps(items)


def schedule(size: int, helpers: int, chunk: int) -> list[tuple[int, int, int]]:
    """The byte ranges of a file of `size` bytes, in order, each as (start, end, who): who is
    -1 for the calling process, else the number of the helper process that decodes it. Each
    round is one range for the caller, `OWN_SHARE` of a chunk (it also builds the profiles from
    every range; the first is `FIRST_CHUNKS` chunks, about what it decodes while a helper
    starts), then a chunk for each helper."""
    if chunk < 1:
        raise ValueError(f"chunk must be at least one byte, got {chunk}")
    ranges: list[tuple[int, int, int]] = []
    start, own = 0, chunk * FIRST_CHUNKS  # the helpers are starting meanwhile
    while start < size:
        for who in range(-1, helpers):
            end = min(size, start + (own if who < 0 else chunk))
            if start < end:
                ranges.append((start, end, who))
            start = end
        own = int(chunk * OWN_SHARE)
    return ranges


def parallel_records(
    path: Path, workers: int, chunk_bytes: int = CHUNK_BYTES, limits: ReadLimits = DEFAULT_LIMITS
) -> Iterator[tuple[Location, Any]] | None:
    """(line, item) pairs of a JSON Lines file decoded by `workers` processes (this one and
    `workers` - 1 helpers), in file order; None if `path` is not an uncompressed JSON Lines file."""
    if workers < 2 or path.suffix == ".gz" or not is_json_lines(path, limits):
        return None
    return _ordered(path.resolve(), workers - 1, chunk_bytes, limits.line_bytes)


def _start_worker(path: Path, max_line: int) -> subprocess.Popen[bytes]:
    """A fresh interpreter running `serve` on `path` (nothing inherited but the environment)."""
    package_root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, "-c", _WORKER, str(path), str(max_line)]
    return subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)


def _send(worker: subprocess.Popen[bytes], start: int, end: int) -> None:
    assert worker.stdin is not None
    worker.stdin.write(b"%d %d\n" % (start, end))
    worker.stdin.flush()


def _receive(worker: subprocess.Popen[bytes]) -> tuple[int, bytes]:
    assert worker.stdout is not None
    header = worker.stdout.read(_HEADER.size)
    if len(header) < _HEADER.size:
        raise MatcherError(f"a JSON decoding worker process stopped (exit code {worker.wait()})")
    count, length = _HEADER.unpack(header)
    blob = worker.stdout.read(length)
    if len(blob) < length:
        raise MatcherError(f"a JSON decoding worker process stopped (exit code {worker.wait()})")
    return count, blob


def _records(offset: int, items: list[tuple[int, int, Any]]) -> Iterator[tuple[Location, Any]]:
    """The (line, item) pairs of a range's decoded items; `offset`: lines before the range."""
    for number, tag, payload in items:
        line = offset + number
        if tag == _ROW:
            yield line, WorkRow._make(payload)
        elif tag == _PROBLEM:
            yield line, RecordProblem(*payload)
        elif tag == _NOT_JSON:
            yield line, Rejection(line, payload)
        else:
            yield from expand(line, payload)


def _ordered(path: Path, helpers: int, chunk_bytes: int, max_line: int) -> Iterator[tuple[Location, Any]]:
    """The ranges of `schedule`, decoded here or by a helper, yielded in file order. A helper
    has at most two ranges in flight (the one it decodes, the next one queued), so memory stays
    bounded however far it could run ahead; while this process decodes its own range, each
    helper decodes its next."""
    ranges = schedule(path.stat().st_size, helpers, chunk_bytes)
    buffer = bytearray(BLOCK_BYTES)  # for this process's ranges, one after the other
    queues = [[(start, end) for start, end, who in ranges if who == h] for h in range(helpers)]
    pool = [_start_worker(path, max_line) for queue in queues if queue]
    try:
        for worker, queue in zip(pool, queues, strict=False):
            for start, end in queue[:2]:
                _send(worker, start, end)
        received = [0] * len(pool)
        offset = 0
        for start, end, who in ranges:
            if who < 0:
                count, items = _decoded_range(str(path), start, end, buffer, max_line)
            else:
                count, blob = _receive(pool[who])
                received[who] += 1
                if received[who] + 1 < len(queues[who]):
                    _send(pool[who], *queues[who][received[who] + 1])
                items = marshal.loads(blob)
            yield from _records(offset, items)
            offset += count
    finally:  # also when the caller stops early: closing the pipes ends each worker
        for worker in pool:
            for pipe in (worker.stdin, worker.stdout):
                if pipe is not None:
                    pipe.close()
        for worker in pool:
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()


def serve(path: str, max_line: int = DEFAULT_LIMITS.line_bytes) -> None:
    """Worker loop: read "start end" lines on stdin, answer each with a header and marshal bytes.
    At the end of input the process exits at once (`os._exit`): it holds nothing that needs
    cleaning up, and the reader waits for it to exit before it builds the profiles. Ctrl-C is
    left to the reader (it reaches the whole process group): closing the pipes ends this loop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    out = sys.stdout.buffer
    buffer = bytearray(BLOCK_BYTES)
    try:
        for task in sys.stdin.buffer:
            start, end = map(int, task.split())
            count, blob = decode_range(path, start, end, buffer, max_line)
            out.write(_HEADER.pack(count, len(blob)))
            out.write(blob)
            out.flush()
    except BrokenPipeError:  # the reader stopped early: nothing left to do
        pass
    os._exit(0)
