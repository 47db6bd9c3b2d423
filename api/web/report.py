"""A batch result as the job page shows it: the summary in words, how strong the suggestions are,
who was suggested to whom between countries, who was left short and why, and the first pairs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from api.web import words
from matcher.score.strength import label, strength

__all__ = ["MODES", "Report", "country_label", "report"]

MODES = {"topk": "each applicant’s best partners", "pairs": "one pairing for everyone, within capacities",
         "bipartite": "two sides, every partnership joins one of each"}
LEVELS = (("strong", "Strong matches"), ("good", "Good matches"), ("weak", "Possible matches"))
ONE = {"strong": "Strong match", "good": "Good match", "weak": "Possible match"}
SHOWN = 50
COUNTRIES = 10


@dataclass(frozen=True)
class Report:
    mode: str
    applicants: int
    suggestions: int
    short: int
    strengths: tuple[tuple[str, str, int], ...]  # (style, words, count)
    countries: tuple[str, ...]  # columns and rows of the matrix (codes; "other" last when cut)
    matrix: tuple[tuple[str, tuple[int, ...]], ...]  # (applicant country, suggestions to each partner country)
    pairs: tuple[dict[str, Any], ...]
    unmatched: tuple[dict[str, Any], ...]
    reasons: tuple[tuple[str, int], ...]
    full: int  # applicants who reached their capacity (pairing modes)


def report(data: dict[str, Any], name_of: Callable[[str], str]) -> Report:
    pairs, unmatched, where = data["pairs"], data["unmatched"], data["countries"]
    mode = str(data["mode"])
    listed = pairs if mode == "topk" else [p for p in pairs if p["applicant_id"] < p["partner_id"]]  # once each
    computed = strength(np.asarray([p["score"] for p in listed], dtype=np.float64), "pair")
    levels = [p.get("strength_label") if p.get("strength_label") in ONE else label(float(v))  # kept before labels
              for p, v in zip(listed, computed, strict=True)]
    counts = Counter(levels)
    by_count = Counter(where.values())
    top = [c for c, _ in by_count.most_common(COUNTRIES)]
    cut = len(by_count) > COUNTRIES
    columns = (*top, "other") if cut else tuple(top)

    def column(code: str) -> str:
        return code if code in top else "other"

    cells = Counter((column(where.get(p["applicant_id"], "")), column(where.get(p["partner_id"], ""))) for p in pairs)
    matrix = tuple((a, tuple(cells[(a, b)] for b in columns)) for a in columns)
    shown = tuple(
        {"applicant": name_of(p["applicant_id"]), "from": where.get(p["applicant_id"], ""),
         "partner": name_of(p["partner_id"]), "to": where.get(p["partner_id"], ""), "rank": p["rank"],
         "level": level, "words": ONE[level]}
        for p, level in zip(listed[:SHOWN], levels[:SHOWN], strict=False)
    )
    short = tuple({"name": name_of(u["applicant_id"]), "country": where.get(u["applicant_id"], ""),
                   "wanted": u["wanted"], "matched": u["matched"], "reason": u["reason"]} for u in unmatched[:SHOWN])
    reasons = tuple(Counter(u["reason"] for u in unmatched).most_common())
    full = sum(1 for used, cap in data["capacity_use"].values() if mode != "topk" and used >= cap)
    return Report(
        mode=MODES.get(mode, mode), applicants=len(where), suggestions=len(listed), short=len(unmatched),
        strengths=tuple((style, text, counts[style]) for style, text in LEVELS), countries=columns, matrix=matrix,
        pairs=shown, unmatched=short, reasons=reasons, full=full,
    )


def country_label(code: str) -> str:
    return "Other countries" if code == "other" else words.country(code)
