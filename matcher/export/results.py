"""A batch result on disk: `result.json` (the source of truth) and the files rendered from it
(pairs.csv, pairs.parquet, pairs.xlsx, unmatched.csv, report.html), in one folder per result.

An erasure rewrites only `result.json` without the profile and removes the rendered files, which
are rendered again from it when next asked for (`rendered`): erasing one profile from many kept
results costs one small rewrite each, not four renders each. Writers of a folder hold its lock
(`folder_lock`, across processes), so a render from an older `result.json` never lands after an
erasure.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import orjson

from matcher.assign.programme import BatchResult
from matcher.assign.rows import PairRow, Person, UnmatchedRow
from matcher.export.report import write_outputs
from matcher.store.atomic import write_bytes_atomic

__all__ = [
    "RENDERED", "folder_lock", "read_result", "rendered", "result_data", "result_ids", "scrub_profile",
    "without_profiles", "write_data", "write_result",
]

RENDERED = ("pairs.csv", "pairs.parquet", "pairs.xlsx", "unmatched.csv", "report.html")


def result_data(result: BatchResult) -> dict[str, Any]:
    """What `result.json` holds."""
    return {
        "mode": result.mode,
        "pairs": [asdict(p) for p in result.pairs],
        "unmatched": [{"applicant_id": a, "wanted": w, "matched": m, "reason": r} for a, w, m, r in result.unmatched],
        "countries": result.countries,
        "capacity_use": {k: list(v) for k, v in result.capacity_use.items()},
        "people": {k: asdict(v) for k, v in result.people.items()},
        "run": result.run,
        "summary": result.summary(),
    }


def write_result(result: BatchResult, directory: Path) -> dict[str, Path]:
    """result.json plus the four rendered files; their paths by name."""
    return write_data(result_data(result), directory)


def write_data(data: dict[str, Any], directory: Path) -> dict[str, Path]:
    """`result_data` (perhaps trimmed by `without_profiles`) as result.json plus the rendered files."""
    directory.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(directory / "result.json", orjson.dumps(data))
    return _render(data, directory)


def read_result(directory: Path) -> dict[str, Any]:
    return orjson.loads((directory / "result.json").read_bytes())  # type: ignore[no-any-return]


def result_ids(data: dict[str, Any]) -> set[str]:
    """Every profile id a result names: applicants, partners, and applicants left short."""
    ids = set(data["countries"]) | set(data["capacity_use"]) | set(data.get("people", {}))
    ids.update(p["applicant_id"] for p in data["pairs"])
    ids.update(p["partner_id"] for p in data["pairs"])
    ids.update(u["applicant_id"] for u in data["unmatched"])
    return ids


def without_profiles(data: dict[str, Any], profile_ids: Iterable[str]) -> dict[str, Any]:
    """The result with every row naming one of `profile_ids` dropped."""
    gone = set(profile_ids)
    if not gone:
        return data
    return {
        **data,
        "pairs": [p for p in data["pairs"] if p["applicant_id"] not in gone and p["partner_id"] not in gone],
        "unmatched": [u for u in data["unmatched"] if u["applicant_id"] not in gone],
        "countries": {k: v for k, v in data["countries"].items() if k not in gone},
        "capacity_use": {k: v for k, v in data["capacity_use"].items() if k not in gone},
        "people": {k: v for k, v in data.get("people", {}).items() if k not in gone},
    }


def scrub_profile(directory: Path, profile_id: str) -> bool:
    """Erasure: rewrite the result in `directory` without a profile and remove the files rendered
    from it (see the module); False when the result never held it."""
    with folder_lock(directory) as held:
        if not held:
            return False
        path = directory / "result.json"
        raw = path.read_bytes() if path.exists() else b""
        if orjson.dumps(profile_id) not in raw:  # not even as a string: nothing to parse
            return False
        data = orjson.loads(raw)
        trimmed = without_profiles(data, [profile_id])
        if all(len(trimmed[k]) == len(data[k]) for k in ("pairs", "unmatched", "countries", "capacity_use")):
            return False
        write_bytes_atomic(path, orjson.dumps(trimmed))
        for name in RENDERED:
            (directory / name).unlink(missing_ok=True)
    return True


def rendered(directory: Path, name: str) -> Path:
    """A rendered file of the result in `directory` (one of `RENDERED`), rendered again from
    result.json first when an erasure removed it."""
    if name not in RENDERED:
        raise ValueError(f"'{name}' is not a rendered result file")
    path = directory / name
    if not path.exists():
        with folder_lock(directory):
            if not path.exists():
                _render(read_result(directory), directory)
    return path


@contextmanager
def folder_lock(directory: Path) -> Iterator[bool]:
    """The lock of one result folder (across processes); yields False when the folder is gone."""
    try:
        handle = (directory / ".lock").open("a")
    except FileNotFoundError:
        yield False
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _render(data: dict[str, Any], directory: Path) -> dict[str, Path]:
    paths = write_outputs(
        [PairRow(**p) for p in data["pairs"]],
        [UnmatchedRow(**u) for u in data["unmatched"]],
        data["countries"],
        {k: (v[0], v[1]) for k, v in data["capacity_use"].items()},
        directory,
        people={k: Person(**v) for k, v in data.get("people", {}).items()},
        run=data.get("run") or {"mode": data["mode"]},
    )
    return {**paths, "result.json": directory / "result.json"}
