"""Batch outputs for mailing and review: pairs.csv, pairs.parquet, unmatched.csv, report.html.

Rows arrive with external ids (the caller translates rows to ids once). Every file is written
to a temporary name in the output folder and moved into place with os.replace, so a reader
never sees half a file. The HTML page is self-contained: inline CSS and SVG, no scripts.
"""

from __future__ import annotations

import csv
import os
import secrets
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import astuple
from html import escape
from pathlib import Path

import numpy as np

from matcher.assign.rows import PAIR_COLUMNS, UNMATCHED_COLUMNS, PairRow, UnmatchedRow

__all__ = ["write_outputs"]

def write_outputs(
    rows: Iterable[PairRow],
    unmatched: Iterable[UnmatchedRow],
    countries: Mapping[str, str],
    capacity_use: Mapping[str, tuple[int, int]],
    out_dir: str | os.PathLike[str],
) -> dict[str, Path]:
    """Write the four outputs; ``capacity_use`` maps an id to (partners used, capacity)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows, unmatched = list(rows), list(unmatched)
    pairs = [astuple(r) for r in rows]
    missing = [(u.applicant_id, countries.get(u.applicant_id, ""), u.wanted, u.matched, u.reason) for u in unmatched]
    paths = {name: out / name for name in ("pairs.csv", "pairs.parquet", "unmatched.csv", "report.html")}
    _atomic(paths["pairs.csv"], lambda p: _write_csv(p, PAIR_COLUMNS, pairs))
    _atomic(paths["pairs.parquet"], lambda p: _write_parquet(p, rows))
    _atomic(paths["unmatched.csv"], lambda p: _write_csv(p, UNMATCHED_COLUMNS, missing))
    page = _html(rows, missing, countries, capacity_use)
    _atomic(paths["report.html"], lambda p: p.write_text(page, encoding="utf-8"))
    return paths


def _atomic(path: Path, write: Callable[[Path], object]) -> None:
    """Write through a unique temporary name in the same folder, then rename into place."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_csv(path: Path, header: Sequence[str], records: Iterable[tuple]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(records)


def _write_parquet(path: Path, rows: list[PairRow]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema(
        [
            ("applicant_id", pa.string()),
            ("partner_id", pa.string()),
            ("score", pa.float64()),
            ("rank", pa.int32()),
            ("reason", pa.string()),
            ("strength", pa.float64()),
            ("strength_label", pa.string()),
        ]
    )
    columns = {name: [getattr(r, name) for r in rows] for name in PAIR_COLUMNS}
    pq.write_table(pa.Table.from_pydict(columns, schema=schema), path)


_CSS = """body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ddd;padding:3px 6px}
th{background:#f3f3f3}td.n{text-align:right}.m td{text-align:center;min-width:2.2em}
.cards{display:flex;gap:1em;flex-wrap:wrap}.card{border:1px solid #ddd;padding:.6em 1em}
.card b{display:block;font-size:1.4em}svg text{font-size:11px}"""


def _html(rows, missing, countries, capacity_use) -> str:
    scores = np.array([r.score for r in rows], dtype=np.float64)
    used = sum(u for u, _ in capacity_use.values())
    total = sum(c for _, c in capacity_use.values())
    cards = [
        ("applicants", len(capacity_use) or len({r.applicant_id for r in rows})),
        ("suggested pairs (rows)", len(rows)),
        ("applicants with a partner", len({r.applicant_id for r in rows})),
        ("unmatched or short", len(missing)),
        ("mean score", f"{scores.mean():.3f}" if scores.size else "-"),
        ("strong / good / weak pairs (rows)", " / ".join(
            str(sum(r.strength_label == lab for r in rows)) for lab in ("strong", "good", "weak"))),
        ("capacity used", f"{used} / {total}"),
    ]
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Batch matching report</title><style>{_CSS}</style></head><body>",
        "<h1>Batch matching report</h1><div class='cards'>",
        *(f"<div class='card'>{escape(k)}<b>{escape(str(v))}</b></div>" for k, v in cards),
        "</div><h2>Pairs by country (applicant row, partner column)</h2>",
        _matrix(rows, countries),
        "<h2>Score distribution</h2>",
        _histogram(scores),
        "<h2>Capacity use</h2>",
        _capacity(capacity_use, countries),
        f"<h2 id='unmatched'>Unmatched applicants ({len(missing)})</h2>",
        _unmatched(missing),
        "</body></html>",
    ]
    return "\n".join(parts)


def _matrix(rows, countries) -> str:
    counts = Counter((countries.get(r.applicant_id, "?"), countries.get(r.partner_id, "?")) for r in rows)
    if not counts:
        return "<p>No pairs.</p>"
    size: Counter[str] = Counter()
    for (a, b), c in counts.items():
        size[a] += c
        size[b] += c
    names = sorted(size, key=lambda x: (-size[x], x))
    top = max(counts.values())
    head = "".join(f"<th>{escape(c)}</th>" for c in names)
    body = []
    for a in names:
        cells = []
        for b in names:
            c = counts.get((a, b), 0)
            shade = (
                f" style='background:rgba(33,102,172,{0.1 + 0.9 * c / top:.2f})"
                f";color:{'#fff' if c / top > 0.5 else '#000'}'"
                if c
                else ""
            )
            cells.append(f"<td{shade} title='{escape(a)} to {escape(b)}: {c}'>{c or ''}</td>")
        body.append(f"<tr><th>{escape(a)}</th>{''.join(cells)}</tr>")
    return f"<table class='m' id='country-matrix'><tr><th></th>{head}</tr>{''.join(body)}</table>"


def _histogram(scores: np.ndarray, bins: int = 20) -> str:
    if scores.size == 0:
        return "<p>No scores.</p>"
    counts, edges = np.histogram(scores, bins=bins)
    width, height, bar = 600, 160, 600 / bins
    top = max(int(counts.max()), 1)
    bars = "".join(
        f"<rect x='{i * bar:.1f}' y='{height - height * c / top:.1f}' width='{bar - 1:.1f}' "
        f"height='{height * c / top:.1f}' fill='#2166ac'><title>{edges[i]:.3f} to "
        f"{edges[i + 1]:.3f}: {c}</title></rect>"
        for i, c in enumerate(counts.tolist())
    )
    axis = (
        f"<text x='0' y='{height + 14}'>{edges[0]:.3f}</text><text x='{width}' "
        f"y='{height + 14}' text-anchor='end'>{edges[-1]:.3f}</text>"
    )
    return (
        f"<svg id='score-histogram' xmlns='http://www.w3.org/2000/svg' width='{width}' "
        f"height='{height + 20}' role='img' aria-label='score histogram'>{bars}{axis}</svg>"
    )


def _capacity(capacity_use, countries) -> str:
    if not capacity_use:
        return "<p>No capacity data.</p>"
    per: dict[str, list[int]] = {}
    for who, (used, cap) in capacity_use.items():
        acc = per.setdefault(countries.get(who, "?"), [0, 0, 0])
        acc[0], acc[1], acc[2] = acc[0] + used, acc[1] + cap, acc[2] + (used >= cap > 0)
    lines = []
    for name, (used, cap, full) in sorted(per.items(), key=lambda kv: -kv[1][1]):
        pct = 100.0 * used / cap if cap else 0.0
        lines.append(
            f"<tr><th>{escape(name)}</th><td class='n'>{used}</td><td class='n'>{cap}</td>"
            f"<td class='n'>{full}</td><td><svg width='200' height='12'><rect width='200' "
            f"height='12' fill='#eee'/><rect width='{2 * pct:.1f}' height='12' "
            f"fill='#b2182b'/></svg> {pct:.0f}%</td></tr>"
        )
    return (
        "<table id='capacity'><tr><th>country</th><th>used</th><th>capacity</th>"
        f"<th>applicants full</th><th>use</th></tr>{''.join(lines)}</table>"
    )


def _unmatched(missing) -> str:
    if not missing:
        return "<p>Everyone got the partners they asked for.</p>"
    lines = "".join("<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in rec) + "</tr>" for rec in missing)
    head = "".join(f"<th>{escape(c)}</th>" for c in UNMATCHED_COLUMNS)
    return f"<table id='unmatched-list'><tr>{head}</tr>{lines}</table>"
