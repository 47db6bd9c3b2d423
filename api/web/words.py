"""Plain words for what the product computes: how strong a match is, how well a team covers an
aspect, country names, counts. No raw score is shown without words that say what it means."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from matcher.domain.countries import country_name
from matcher.domain.errors import MatcherError
from matcher.score.strength import label
from matcher.score.strength import strength as calibrated

__all__ = [
    "ROLE_WORDS", "Strength", "country", "coverage_level", "flags", "member_level", "plural", "reasons", "scope_words",
    "strength",
]

_LABELS = {"strong": "Strong match", "good": "Good match", "weak": "Possible match"}
# Without a calibrated strength (older results), relevance alone gives the words: these cut-offs
# sit where real partners' text relevance has its 75th and 50th percentiles (matcher eval).
_STRONG_RELEVANCE = 0.6
_GOOD_RELEVANCE = 0.5


@dataclass(frozen=True)
class Strength:
    level: str  # strong, good or weak: also the card's style
    words: str  # "Strong match"
    meaning: str  # one sentence on what that means, or ""


def strength(suggestion: Any) -> Strength:
    """Words for a suggestion: its calibrated `strength`/`strength_label` when it carries them,
    else words from its relevance."""
    level = getattr(suggestion, "strength_label", None)
    value = getattr(suggestion, "strength", None)
    if level not in _LABELS:
        relevance = float(getattr(suggestion, "relevance", 0.0))
        level = "strong" if relevance >= _STRONG_RELEVANCE else "good" if relevance >= _GOOD_RELEVANCE else "weak"
        value = None
    meaning = ""
    if isinstance(value, int | float):
        tenths = max(0, min(10, round(float(value) * 10)))
        than = "nearly all" if tenths == 10 else f"{tenths} in 10" if tenths >= 2 else ""
        meaning = (f"Closer to your request than {than} real project partners were to their projects." if than
                   else "Less close than most real project partners were to their projects.")
    return Strength(str(level), _LABELS[str(level)], meaning)


def coverage_level(value: float, gap_threshold: float) -> tuple[str, str]:
    """(style, words) for how well a team covers an aspect: a gap below the call's threshold (as
    the team's gaps are counted), else by the calibrated strength of the closeness."""
    if value < gap_threshold:
        return "gap", "gap: not covered"
    level = label(float(calibrated(value, "text")))
    return {"strong": ("well", "well covered"), "good": ("well", "covered")}.get(level, ("part", "partly covered"))


def member_level(value: float, gap_threshold: float) -> tuple[str, str]:
    """(style, words) for what one member brings to an aspect."""
    if value < gap_threshold:
        return "none", "little"
    level = label(float(calibrated(value, "text")))
    return {"strong": ("well", "strong"), "good": ("part", "good")}.get(level, ("part", "some"))


def country(code: str) -> str:
    """'DE' -> 'Germany'; a code that names no country is shown as it is."""
    try:
        return country_name(code)
    except (MatcherError, LookupError, ValueError):
        return code


def plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def scope_words(scope: str) -> str:
    return {"read": "read", "agency": "agency", "admin": "administrator", "owner": "profile owner"}.get(scope, scope)


def reasons(suggestion: Any) -> list[str]:
    """Why a suggestion was made, in sentences: the works that matched, what the partner adds,
    the topics shared and added."""
    why = suggestion.explanation
    out: list[str] = []
    seen: set[str] = set()
    for work in why.matched_works:
        if work.title in seen or len(out) >= 2:
            continue
        seen.add(work.title)
        if work.matched == "your text":
            out.append(f"Their work “{work.title}” is close to your idea.")
        else:
            out.append(f"Their work “{work.title}” is close to your work “{work.matched}”.")
    adds = [a.aspect for a in why.aspects if a.complements]
    if adds:
        out.append("They bring what your own work lacks on " + ", ".join(f"“{_short(a)}”" for a in adds[:2]) + ".")
    if why.shared_terms:
        out.append("Topics you share: " + ", ".join(why.shared_terms[:5]) + ".")
    if why.complementary_terms:
        out.append("Topics they add: " + ", ".join(why.complementary_terms[:5]) + ".")
    return out


def flags(suggestion: Any) -> list[str]:
    """What the requester may want to know before writing to them."""
    why = suggestion.explanation
    out = []
    if why.coauthor:
        out.append("You have worked with them before.")
    if why.same_institution:
        out.append("They work at your institution.")
    return out


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


ROLE_WORDS = {  # an organisation's role (CORDIS activityType), as a result line says it
    "HES": "university or school", "REC": "research organisation", "PRC": "company", "PUB": "public body",
    "OTH": "organisation",
}
