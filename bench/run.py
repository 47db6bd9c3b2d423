"""Run every benchmark in bench/ (or the named ones) and write bench/results.json plus a table.

Usage: python -m bench.run [SECTION ...]     e.g.  python -m bench.run match
Each bench module `bench_<section>.py` has `run() -> dict`; sections not run keep their last figures.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.json"


def machine() -> dict[str, object]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def sections() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))


def main(argv: list[str]) -> int:
    wanted = argv or sections()
    unknown = sorted(set(wanted) - set(sections()))
    if unknown:
        print(f"unknown section(s): {', '.join(unknown)}; known: {', '.join(sections())}", file=sys.stderr)
        return 2
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    for name in wanted:
        print(f"== {name}", file=sys.stderr, flush=True)
        started = time.perf_counter()
        section = importlib.import_module(f"bench.bench_{name}").run()
        section["bench_seconds"] = round(time.perf_counter() - started, 1)
        results[name] = section
        results["machine"] = machine()
        tmp = RESULTS.with_suffix(".tmp")
        tmp.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
        tmp.replace(RESULTS)
    for name in wanted:
        print(f"\n[{name}]")
        for key, value in results[name].items():
            print(f"  {key:<36} {value}")
    print(f"\nwrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
