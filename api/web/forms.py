"""Reading what people typed into the pages' forms. Every problem is a `FormError` naming the field
(its `name` in the form) and saying, in words, what to change; the page shows it beside the field.

The bounds are the API's (`api.schemas`): the pages accept nothing the API would refuse.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from starlette.datastructures import FormData, UploadFile

from matcher.domain.countries import GROUPS, expand_countries
from matcher.domain.errors import UnknownCountry

__all__ = [
    "COUNTRY_HINT", "GROUP_CHOICES", "MAX_TEXT", "FormError", "countries", "flag", "number", "texts", "text",
    "values",
]

MAX_TEXT = 20_000
COUNTRY_HINT = "Use a country name (Germany), a two-letter code (DE) or a group (widening), separated by commas."
GROUP_CHOICES = tuple((g.name, g.title) for g in GROUPS.values())


class FormError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def text(form: FormData, name: str, label: str, *, limit: int = MAX_TEXT, required: bool = False) -> str:
    value = form.get(name)
    value = value.strip() if isinstance(value, str) else ""
    if required and not value:
        raise FormError(name, f"{label} is empty: fill it in.")
    if len(value) > limit:
        raise FormError(name, f"{label} is {len(value):,} characters long; shorten it to at most {limit:,}.")
    return value


def texts(form: FormData, name: str) -> list[str]:
    """Every non-empty value of a repeated field (checkboxes, chosen people)."""
    return [v.strip() for v in form.getlist(name) if isinstance(v, str) and v.strip()]


def values(form: FormData) -> dict[str, Any]:
    """The form's fields as they were typed (files left out), to show the form again."""
    out: dict[str, Any] = {}
    for name in form:
        kept = [v for v in form.getlist(name) if not isinstance(v, UploadFile)]
        out[name] = kept if len(kept) > 1 else (kept[0] if kept else "")
    return out


def flag(form: FormData, name: str) -> bool:
    """A checkbox: ticked when sent with any value but 'off'."""
    value = form.get(name)
    return isinstance(value, str) and value not in ("", "off", "false", "0")


def number(form: FormData, name: str, label: str, low: int, high: int, default: int | None = None) -> int | None:
    raw = form.get(name)
    raw = raw.strip() if isinstance(raw, str) else ""
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise FormError(name, f"{label} must be a whole number, such as {low if low > 0 else 1}.") from None
    if not low <= value <= high:
        raise FormError(name, f"{label} must be between {low} and {high}; it is {value}.")
    return value


def countries(form: FormData, name: str, label: str, *, groups: str | None = None) -> tuple[str, ...]:
    """Ticked groups (the `groups` field) and the countries typed in `name`, each checked."""
    chosen = [g for g in texts(form, groups) if g in GROUPS] if groups else []
    typed = text(form, name, label, limit=2000)
    tokens = [t.strip() for t in typed.split(",") if t.strip()]
    check(name, tokens)
    return tuple(chosen + tokens)


def check(name: str, tokens: Iterable[str]) -> None:
    for token in tokens:
        try:
            expand_countries([token])
        except UnknownCountry:
            raise FormError(name, f"“{token}” is not a country or group we know. {COUNTRY_HINT}") from None
