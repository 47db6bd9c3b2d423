"""A batch result on disk: `result.json` (the source of truth) and the files rendered from it
(pairs.csv, pairs.parquet, unmatched.csv, report.html), in one folder per result."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from matcher.assign.programme import BatchResult
from matcher.assign.rows import PairRow, UnmatchedRow
from matcher.export.report import write_outputs
from matcher.store.atomic import write_text_atomic

__all__ = ["read_result", "scrub_profile", "write_result"]


def write_result(result: BatchResult, directory: Path) -> dict[str, Path]:
    """result.json plus the four rendered files; their paths by name."""
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


def read_result(directory: Path) -> dict[str, Any]:
    return json.loads((directory / "result.json").read_text())  # type: ignore[no-any-return]


def scrub_profile(directory: Path, profile_id: str) -> bool:
    """Erasure: drop a profile's rows from the result in `directory` and render it again; False
    when the result never held it."""
    path = directory / "result.json"
    if not path.exists():
        return False
    data = read_result(directory)
    if profile_id not in data["countries"]:
        return False
    data["pairs"] = [p for p in data["pairs"] if profile_id not in (p["applicant_id"], p["partner_id"])]
    data["unmatched"] = [u for u in data["unmatched"] if u["applicant_id"] != profile_id]
    data["countries"].pop(profile_id, None)
    data["capacity_use"].pop(profile_id, None)
    write_text_atomic(path, json.dumps(data, ensure_ascii=False))
    _render(data, directory)
    return True


def _render(data: dict[str, Any], directory: Path) -> dict[str, Path]:
    paths = write_outputs(
        [PairRow(**p) for p in data["pairs"]],
        [UnmatchedRow(**u) for u in data["unmatched"]],
        data["countries"],
        {k: (v[0], v[1]) for k, v in data["capacity_use"].items()},
        directory,
    )
    return {**paths, "result.json": directory / "result.json"}
