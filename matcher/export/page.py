"""report.html of a batch: the run, who meets whom, and the figures, in one self-contained page.

Plain HTML and CSS (bars are styled elements, not drawings). A small inline script makes the
pair list sortable and searchable; without it the list is an ordinary table.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

import numpy as np

from matcher.assign.exposure import exposure_summary
from matcher.assign.rows import UNMATCHED_COLUMNS, PairRow

__all__ = ["TOP_COUNTRIES", "report_page"]

TOP_COUNTRIES = 15  # the matrix shows these many countries by pairs, the rest as "others"

_CSS = """body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222;max-width:80em}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ddd;padding:3px 6px;text-align:left}
thead th{background:#f3f3f3}td.n{text-align:right}.m td{text-align:center;min-width:2.2em}
.scroll{overflow:auto;max-height:36em}.scroll thead th{position:sticky;top:0}
.cards{display:flex;gap:1em;flex-wrap:wrap}.card{border:1px solid #ddd;padding:.6em 1em}
.card b{display:block;font-size:1.4em}dl.run{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}
dl.run dt{font-weight:600}dl.run dd{margin:0}.bar{display:inline-block;height:.9em;background:#6b7b8c}
.track{display:inline-block;width:200px;background:#e6e6e6;vertical-align:middle}
th button{font:inherit;border:0;background:none;padding:0;cursor:pointer}small{color:#555}"""

_SCRIPT = """(function(){var t=document.getElementById('pair-list');if(!t)return;
var b=t.tBodies[0],rows=Array.prototype.slice.call(b.rows),box=document.createElement('input');
box.type='search';box.id='pair-search';box.placeholder='Search names, countries, institutions';
box.setAttribute('aria-label','Search the pairings');t.parentNode.parentNode.insertBefore(box,t.parentNode);
box.addEventListener('input',function(){var q=box.value.toLowerCase();rows.forEach(function(r){
r.hidden=q&&r.textContent.toLowerCase().indexOf(q)<0;});});
Array.prototype.forEach.call(t.tHead.rows[0].cells,function(th,i){var k=document.createElement('button');
k.textContent=th.textContent;th.textContent='';th.appendChild(k);var up=true;k.addEventListener('click',function(){
function v(r){return r.cells[i].dataset.v||r.cells[i].textContent;}
rows.sort(function(x,y){var a=v(x),c=v(y),n=parseFloat(a)-parseFloat(c);
return (isNaN(n)?a.localeCompare(c):n)*(up?1:-1);});up=!up;
rows.forEach(function(r){b.appendChild(r);});});});})();"""


def report_page(
    rows: Sequence[PairRow], missing: Sequence[tuple], countries: Mapping[str, str],
    capacity_use: Mapping[str, tuple[int, int]], run: Mapping[str, Any],
) -> str:
    mode = str(run.get("mode", ""))
    first_side = set(run.get("side_countries", [[]])[0])
    pairings = _pairings(sorted(rows, key=lambda r: r.applicant_country not in first_side) if first_side else rows,
                         mode)
    noun = "suggestions" if mode == "topk" else "partnerships"
    scores = np.array([r.score for r in pairings], dtype=np.float64)
    used = sum(u for u, _ in capacity_use.values())
    total = sum(c for _, c in capacity_use.values())
    cards = [
        ("people in the pool", run.get("pool_size") or len(capacity_use) or len({r.applicant_id for r in rows})),
        (noun, len(pairings)),
        ("people with a partner", len({r.applicant_id for r in rows})),
        ("people unmatched or short", len(missing)),
        ("mean score", f"{scores.mean():.3f}" if scores.size else "-"),
        (f"strong / good / weak {noun}", " / ".join(
            str(sum(r.strength_label == lab for r in pairings)) for lab in ("strong", "good", "weak"))),
        ("capacity used", f"{used} / {total}"),
    ]
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>Batch matching report</title><style>{_CSS}</style></head><body>",
        "<h1>Batch matching report</h1>",
        "<h2 id='run'>The run</h2>", _run(run, len(rows), len(pairings), noun),
        "<div class='cards'>",
        *(f"<div class='card'>{escape(k)}<b>{escape(str(v))}</b></div>" for k, v in cards),
        "</div>",
        f"<h2 id='pairings'>Who meets whom ({len(pairings)} {noun})</h2>",
        _pair_list(pairings, run.get("sides") or ("applicant", "partner")),
        f"<h2>{noun.capitalize()} by country (applicant's country by row, partner's by column)</h2>",
        _matrix(pairings, countries),
        "<h2 id='exposure'>Exposure: how often each person is suggested</h2>", _exposure(rows, countries, run),
        "<h2>Score distribution</h2>", _histogram(scores, noun),
        "<h2>Capacity use</h2>", _capacity(capacity_use, countries),
        f"<h2 id='unmatched'>Unmatched applicants ({len(missing)})</h2>", _unmatched(missing),
        f"<script>{_SCRIPT}</script></body></html>",
    ]
    return "\n".join(parts)


def _pairings(rows: Sequence[PairRow], mode: str) -> list[PairRow]:
    """Each pairing once: topk suggestions are one-way; a partnership is two rows, kept from one side."""
    if mode == "topk":
        return list(rows)
    seen: set[frozenset[str]] = set()
    out = []
    for r in rows:
        key = frozenset((r.applicant_id, r.partner_id))
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


_OPTIONS = {
    "k": "partners per applicant (k)", "capacity": "partners per applicant (capacity)",
    "min_score": "minimum strength", "sides": "sides", "pool_countries": "only applicants from",
    "exclude_countries": "left out", "cross_border": "partners in another country only",
    "exclude_conflicts": "co-authors and colleagues kept apart",
}
_MODES = {"topk": "topk: each applicant's best partners abroad", "pairs": "pairs: one pairing of the whole pool",
          "bipartite": "bipartite: every partnership joins the two sides"}


def _run(run: Mapping[str, Any], n_rows: int, n_pairings: int, noun: str) -> str:
    items = [("mode", _MODES.get(str(run.get("mode")), str(run.get("mode", "-")))),
             ("date (UTC)", run.get("date", "-")), ("people in the pool", run.get("pool_size", "-"))]
    for key, label in _OPTIONS.items():
        if key in run:
            value = run[key]
            if isinstance(value, bool):
                value = "yes" if value else "no"
            elif isinstance(value, list):
                value = " and ".join(map(str, value)) if key == "sides" else ", ".join(map(str, value))
            items.append((label, "none" if value is None else value))
    items.append((noun, f"{n_pairings}" + (f" ({n_rows} rows in pairs.csv, one per side)" if n_rows != n_pairings
                                            else "")))
    body = "".join(f"<dt>{escape(k)}</dt><dd>{escape(str(v))}</dd>" for k, v in items)
    return f"<dl class='run' id='run-details'>{body}</dl>"


def _who(name: str, pid: str, country: str, institution: str) -> str:
    extra = ", ".join(x for x in (country, institution) if x)
    return (f"{escape(name or pid)}<br><small>{escape(extra)}" + (f" ({escape(pid)})" if name else "")
            + "</small>")


def _pair_list(pairings: Sequence[PairRow], sides: Sequence[str]) -> str:
    """Every pairing; in bipartite mode the first side's member on the left, headed by the sides."""
    if not pairings:
        return "<p>No pairings.</p>"
    head = "".join(f"<th scope='col'>{escape(h)}</th>" for h in (*sides[:2], "strength", "score", "why"))
    body = "".join(
        f"<tr><td data-v='{escape(r.applicant_name or r.applicant_id)}'>"
        f"{_who(r.applicant_name, r.applicant_id, r.applicant_country, r.applicant_institution)}</td>"
        f"<td data-v='{escape(r.partner_name or r.partner_id)}'>"
        f"{_who(r.partner_name, r.partner_id, r.partner_country, r.partner_institution)}</td>"
        f"<td data-v='{r.strength if r.strength is not None else r.score}'>{escape(r.strength_label or '-')}</td>"
        f"<td class='n'>{r.score:.3f}</td><td>{escape(r.reason)}</td></tr>"
        for r in pairings
    )
    return (f"<div class='scroll'><table id='pair-list'><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table></div>")


def _matrix(rows: Sequence[PairRow], countries: Mapping[str, str], top: int = TOP_COUNTRIES) -> str:
    pairs = [(countries.get(r.applicant_id, "?"), countries.get(r.partner_id, "?")) for r in rows]
    if not pairs:
        return "<p>No pairs.</p>"
    size: Counter[str] = Counter()
    for a, b in pairs:
        size[a] += 1
        size[b] += 1
    names = sorted(size, key=lambda x: (-size[x], x))
    shown = names if len(names) <= top + 1 else names[:top]
    others = "others" if len(shown) < len(names) else None
    keep = set(shown)
    counts = Counter((a if a in keep else "others", b if b in keep else "others") for a, b in pairs)
    axis = shown + ([others] if others else [])
    peak = max(counts.values())
    head = "".join(f"<th scope='col'>{escape(c)}</th>" for c in axis)
    body = []
    for a in axis:
        cells = []
        for b in axis:
            c = counts.get((a, b), 0)
            shade = (f" style='background:rgba(33,102,172,{0.1 + 0.9 * c / peak:.2f})"
                     f";color:{'#fff' if c / peak > 0.5 else '#000'}'" if c else "")
            cells.append(f"<td{shade} title='{escape(a)} to {escape(b)}: {c}'>{c or ''}</td>")
        body.append(f"<tr><th scope='row'>{escape(a)}</th>{''.join(cells)}</tr>")
    note = (f"<p>The {top} countries with the most pairings; the other {len(names) - top} are summed as "
            "&ldquo;others&rdquo;.</p>" if others else "")
    return (f"{note}<div class='scroll'><table class='m' id='country-matrix'><thead><tr><th></th>{head}</tr>"
            f"</thead><tbody>{''.join(body)}</tbody></table></div>")


def _histogram(scores: np.ndarray, noun: str, bins: int = 10) -> str:
    if scores.size == 0:
        return "<p>No scores.</p>"
    counts, edges = np.histogram(scores, bins=bins)
    peak = max(int(counts.max()), 1)
    lines = "".join(
        f"<tr><th scope='row'>{edges[i]:.3f} to {edges[i + 1]:.3f}</th><td class='n'>{c}</td>"
        f"<td><span class='track'><span class='bar' style='width:{100 * c / peak:.1f}%'></span></span></td></tr>"
        for i, c in enumerate(counts.tolist())
    )
    return (f"<table id='score-histogram'><caption>Number of {noun} by score</caption><thead><tr>"
            f"<th scope='col'>score (cosine of the two profiles)</th><th scope='col'>{noun}</th>"
            f"<th scope='col'>bar (0 to {peak})</th></tr></thead><tbody>{lines}</tbody></table>")


def _exposure(rows: Sequence[PairRow], countries: Mapping[str, str], run: Mapping[str, Any]) -> str:
    if not countries:
        return "<p>No pool data.</p>"
    ex = exposure_summary((r.partner_id for r in rows), countries)
    fair = run.get("fair")
    how = (f"Fairness option on: at most {escape(str(fair['cap']))} suggestions per person"
           + (f", partners from {escape(', '.join(fair['prefer_countries']))} preferred (+{fair['prefer_weight']})"
              if fair.get("prefer_countries") else "") + "."
           if isinstance(fair, Mapping)
           else "Fairness option off (matcher batch --fair spreads exposure)." if run.get("mode", "topk") == "topk"
           else "Each person takes part at most their capacity times; the fairness option (--fair) is for top-k "
                "lists.")
    groups = "".join(
        f"<tr><th scope='row'>{label}</th><td class='n'>{100 * ex[key]['pool_share']:.1f}%</td>"
        f"<td class='n'>{100 * ex[key]['suggestion_share']:.1f}%</td></tr>"
        for label, key in (("widening countries", "widening"), ("low- and lower-middle-income countries", "low_income"))
    )
    lines = "".join(
        f"<tr><th scope='row'>{escape(c['country'])}</th><td class='n'>{c['applicants']}</td>"
        f"<td class='n'>{100 * c['pool_share']:.1f}%</td><td class='n'>{c['suggestions']}</td>"
        f"<td class='n'>{100 * c['suggestion_share']:.1f}%</td></tr>"
        for c in ex["countries"]
    )
    return (
        f"<p>{how} Gini of exposure <b id='exposure-gini'>{ex['gini']:.3f}</b> (0: everyone suggested "
        f"equally often; towards 1: a few take all); the most suggested person appears {ex['most_suggested']} "
        f"times; {ex['never_suggested']} people are never suggested.</p>"
        "<table id='exposure-groups'><thead><tr><th scope='col'>countries</th><th scope='col'>share of the pool</th>"
        f"<th scope='col'>share of the {escape('suggestions')}</th></tr></thead><tbody>{groups}</tbody></table>"
        "<div class='scroll'><table id='exposure-countries'><thead><tr><th scope='col'>country</th>"
        "<th scope='col'>applicants</th><th scope='col'>share of the pool</th><th scope='col'>times suggested</th>"
        f"<th scope='col'>share of the suggestions</th></tr></thead><tbody>{lines}</tbody></table></div>"
    )


def _capacity(capacity_use: Mapping[str, tuple[int, int]], countries: Mapping[str, str]) -> str:
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
            f"<tr><th scope='row'>{escape(name)}</th><td class='n'>{used}</td><td class='n'>{cap}</td>"
            f"<td class='n'>{full}</td><td><span class='track'><span class='bar' style='width:{min(pct, 100):.1f}%'>"
            f"</span></span> {pct:.0f}%</td></tr>"
        )
    return ("<div class='scroll'><table id='capacity'><thead><tr><th scope='col'>country</th>"
            "<th scope='col'>partners given</th><th scope='col'>capacity</th><th scope='col'>applicants full</th>"
            f"<th scope='col'>share of capacity used</th></tr></thead><tbody>{''.join(lines)}</tbody></table></div>")


def _unmatched(missing: Sequence[tuple]) -> str:
    if not missing:
        return "<p>Everyone got the partners they asked for.</p>"
    lines = "".join("<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in rec) + "</tr>" for rec in missing)
    head = "".join(f"<th scope='col'>{escape(c)}</th>" for c in UNMATCHED_COLUMNS)
    return (f"<div class='scroll'><table id='unmatched-list'><thead><tr>{head}</tr></thead>"
            f"<tbody>{lines}</tbody></table></div>")
