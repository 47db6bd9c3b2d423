"""The consortium builder's form: the call (its text, or aspects with an importance each) and its
rules, read into the `CallRequest` that `POST /v1/consortia` builds, within the API's bounds."""

from __future__ import annotations

import re
from collections.abc import Callable

from starlette.datastructures import FormData

from api.web.forms import FormError, check, countries, flag, number, text, texts
from matcher.assemble.calls import CallRequest
from matcher.domain.countries import GROUPS

__all__ = ["IMPORTANCE", "MAX_ASPECTS", "QUOTA_ROWS", "aspect_rows", "call_request"]

IMPORTANCE = {"0.5": "less important", "1": "normal", "2": "important", "3": "essential"}
MAX_ASPECTS = 30
QUOTA_ROWS = 3
_ASPECT = re.compile(r"^aspect-(\d{1,2})-text$")


def aspect_rows(form: FormData | dict[str, object]) -> list[int]:
    return sorted({int(m.group(1)) for name in form if (m := _ASPECT.match(name))})


def _aspects(form: FormData) -> tuple[tuple[str, float], ...]:
    out = []
    for i in aspect_rows(form):
        words = text(form, f"aspect-{i}-text", f"Aspect {i + 1}", limit=2000)
        if words:
            weight = form.get(f"aspect-{i}-weight")
            out.append((words, float(weight) if isinstance(weight, str) and weight in IMPORTANCE else 1.0))
    if len(out) > MAX_ASPECTS:
        raise FormError("aspect-0-text", f"At most {MAX_ASPECTS} aspects: merge or drop {len(out) - MAX_ASPECTS}.")
    return tuple(out)


def _quotas(form: FormData) -> tuple[str, ...]:
    """'widening:1', 'DE,FR:2': a group (or typed countries) and how many members at least."""
    out = []
    for i in range(QUOTA_ROWS):
        group = form.get(f"quota-{i}-group")
        group = group if isinstance(group, str) and group in GROUPS else ""
        typed = text(form, f"quota-{i}-countries", f"Quota {i + 1}: countries", limit=500)
        least = number(form, f"quota-{i}-least", f"Quota {i + 1}: at least", 1, 30)
        if not (group or typed):
            continue
        if group and typed:
            raise FormError(f"quota-{i}-countries", f"Quota {i + 1}: choose a group or type countries, not both.")
        if typed:
            check(f"quota-{i}-countries", [t for t in typed.split(",") if t.strip()])
        if least is None:
            raise FormError(f"quota-{i}-least", f"Quota {i + 1}: say how many members at least, e.g. 1.")
        out.append(f"{group or typed}:{least}")
    return tuple(out)


def _members(form: FormData, field: str, label: str, resolve: Callable[[str, str], str]) -> tuple[str, ...]:
    """People chosen in a picker (ticked ids), plus whoever is typed in its box (without script)."""
    chosen = texts(form, field)
    typed = text(form, f"{field}_q", label, limit=300)
    if typed:
        chosen.append(resolve(field, typed))
    return tuple(dict.fromkeys(chosen))


def call_request(form: FormData, resolve: Callable[[str, str], str]) -> CallRequest:
    """The consortium the form asks for; `resolve(field, typed)` turns a name or id typed in a
    picker into a profile id (`FormError` when it names nobody or several people)."""
    call_text = text(form, "call_text", "The call text")
    aspects = _aspects(form)
    if not call_text and not aspects:
        raise FormError("call_text", "Paste the call text, or list the aspects the team must cover.")
    size = number(form, "size", "Team size", 1, 30, default=5)
    assert size is not None
    least = number(form, "min_countries", "Countries at least", 1, 30, default=1)
    assert least is not None
    if least > size:
        raise FormError("min_countries", f"A team of {size} cannot come from {least} countries: lower one of them.")
    return CallRequest(
        call_text=None if aspects else call_text, aspects=aspects, min_size=size, max_size=size,
        min_countries=least, max_per_country=number(form, "max_per_country", "Members per country at most", 1, 30),
        group_min=_quotas(form),
        must_include=_members(form, "must_include", "Members the teams must include", resolve),
        exclude=_members(form, "excluded", "People to leave out", resolve),
        pool_countries=countries(form, "pool", "Candidates only from"),
        kinds={"researcher": ("researcher",), "organisation": ("organisation",)}.get(str(form.get("kinds")), ()),
        exclude_conflicts=flag(form, "apart"), teams=number(form, "teams", "Number of teams", 1, 10, default=3) or 3,
        exact=flag(form, "exact"),
    )
