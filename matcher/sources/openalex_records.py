"""Pure functions over single OpenAlex records: ids, abstracts, places, names, and a work's row.

`work_row` turns one work record into the few values the profile builder needs, as plain
tuples (cheap to build, and to send between processes; see `matcher.sources.parallel`).
`decode_work` makes that row straight from a JSON Lines line, decoding only the fields it reads.
Nothing here keeps state across records.
"""

from __future__ import annotations

from typing import Annotated, Any, NamedTuple, TypedDict

import msgspec
import orjson

from matcher.profiles import MAX_TEXT
from matcher.sources.build import MAX_TITLE, clip, valid_year

try:  # the C rebuild of abstracts (setup.py builds it; without a compiler, Python does it all)
    from matcher._abstracts import abstract_from_json
except ImportError:  # pragma: no cover - exercised by installs without a C compiler
    def abstract_from_json(raw: bytes | memoryview) -> str | None:
        return None

__all__ = [
    "Authorship", "Place", "RecordProblem", "WorkRow", "abstract_text", "author_place", "decode_work", "names",
    "orcid_of", "place_of", "record_kind", "short_id", "work_row", "work_row_or_problem",
]

URL = "https://openalex.org/"
Place = tuple[str, str]  # (country code, institution name)
# (author short id, position in authorships, display name, ORCID iD, place of this authorship)
Authorship = tuple[str, int, str, str | None, Place | None]


class WorkRow(NamedTuple):
    """What a work contributes to its authors' profiles."""

    id: str
    title: str
    abstract: str
    year: int | None
    topics: list[str]
    authors: list[Authorship]


class RecordProblem(Exception):
    """A record that cannot be used: reason, and the record's id and field when known."""

    def __init__(self, reason: str, record_id: str | None = None, field: str | None = None):
        super().__init__(reason, record_id, field)
        self.reason, self.record_id, self.field = reason, record_id, field


def short_id(value: Any) -> str | None:
    """``https://openalex.org/A123`` -> ``A123`` (a bare ``A123`` is kept); None if absent."""
    if not isinstance(value, str):
        return None
    short = value[value.rfind("/") + 1 :].strip()
    return short[:1].upper() + short[1:] if short else None


def record_kind(rec: dict[str, Any]) -> str | None:
    """``work``, ``author``, or None, from the id's letter or else the fields present."""
    kind = (short_id(rec.get("id")) or " ")[0]
    if kind == "W" or (kind != "A" and ("authorships" in rec or "abstract_inverted_index" in rec)):
        return "work"
    if kind == "A" or "last_known_institutions" in rec or "affiliations" in rec:
        return "author"
    return None


def abstract_text(index: Any) -> str:
    """The abstract an ``abstract_inverted_index`` ({word: [positions]}) encodes."""
    if not index or not isinstance(index, dict):
        return ""
    try:
        words = [""] * sum(map(len, index.values()))
        for word, positions in index.items():
            for position in positions:
                words[position] = word
    except (IndexError, TypeError):
        pairs = sorted(
            (p, w) for w, ps in index.items() if isinstance(ps, list) for p in ps if type(p) is int and p >= 0
        )
        return " ".join(w for _, w in pairs)
    return " ".join(filter(None, words)) if "" in words else " ".join(words)


def place_of(institutions: Any) -> Place | None:
    """(country_code, display_name) of the first institution with a country code."""
    if type(institutions) is list:
        for inst in institutions:
            if type(inst) is dict and (code := inst.get("country_code")):
                return code, inst.get("display_name") or ""
    return None


def _latest_year(affiliation: dict[str, Any]) -> int:
    years = affiliation.get("years")
    return max((y for y in years if type(y) is int), default=0) if isinstance(years, list) else 0


def author_place(rec: dict[str, Any]) -> Place | None:
    """An author record's place: last_known_institutions, last_known_institution, affiliations."""
    affiliations = [a for a in rec.get("affiliations") or () if isinstance(a, dict)]
    affiliations.sort(key=_latest_year, reverse=True)
    return (
        place_of(rec.get("last_known_institutions"))
        or place_of([rec.get("last_known_institution")])
        or place_of([a.get("institution") for a in affiliations])
    )


def names(items: Any, rank: str | None, top: int) -> list[str]:
    """Display names of the first `top` items, ranked by the `rank` field when given."""
    if type(items) is not list:
        return []
    named = [i for i in items if type(i) is dict and type(i.get("display_name")) is str]
    if rank:
        named.sort(key=lambda i: -v if isinstance(v := i.get(rank), int | float) else 0)
    return [i["display_name"] for i in named[:top]]


def orcid_of(value: Any) -> str | None:
    """``https://orcid.org/0000-...`` -> ``0000-...``; None if absent."""
    if type(value) is not str or not (value := value.strip()):
        return None
    return value[value.rfind("/") + 1 :]


def _authorships(authorships: Any) -> list[Authorship]:
    out: list[Authorship] = []
    for index, authorship in enumerate(authorships if type(authorships) is list else ()):
        author = authorship.get("author") if type(authorship) is dict else None
        aid = author.get("id") if type(author) is dict else None
        if type(aid) is not str:
            continue
        aid = aid[len(URL) :] if aid.startswith(URL) else short_id(aid)
        if not aid:
            continue
        place = None
        institutions = authorship.get("institutions")
        if type(institutions) is list:  # place_of, inlined: this runs for every authorship
            for inst in institutions:
                if type(inst) is dict and (code := inst.get("country_code")):
                    place = (code, inst.get("display_name") or "")
                    break
        if place is None:
            countries = authorship.get("countries")
            place = (countries[0], "") if type(countries) is list and countries and countries[0] else None
        orcid = author.get("orcid")
        out.append((aid, index, author.get("display_name") or "", orcid_of(orcid) if orcid else None, place))
    return out


def work_row(rec: dict[str, Any], abstract: str | None = None) -> WorkRow:
    """The values a work record gives its authors; `RecordProblem` if it has none to give.
    `abstract`: the abstract, if already rebuilt from the record's ``abstract_inverted_index``."""
    get = rec.get
    wid = short_id(get("id"))
    if wid is None:
        raise RecordProblem("a work record needs an id", None, "id")
    title = get("title") or get("display_name")
    if type(title) is not str or not (title := title.strip()):
        raise RecordProblem(f"work {wid} has no title; it is not attached to its authors", wid, "title")
    authors = _authorships(get("authorships"))
    if not authors:
        reason = f"work {wid} has no authorships with an author id; there is no one to attach it to"
        raise RecordProblem(reason, wid, "authorships")
    year = get("publication_year")
    if type(year) is not int or not 1900 <= year <= 2100:
        year = valid_year(year)
    if abstract is None:
        abstract = abstract_text(get("abstract_inverted_index"))
    abstract = abstract.strip()
    if len(abstract) > MAX_TEXT:
        abstract = clip(abstract, MAX_TEXT)
    if len(title) > MAX_TITLE:
        title = clip(title, MAX_TITLE)
    topics = names(get("topics"), None, 3) or names(get("concepts"), "score", 3)
    return WorkRow(wid, title, abstract, year, topics, authors)


def work_row_or_problem(rec: dict[str, Any], abstract: str | None = None) -> WorkRow | RecordProblem:
    """`work_row`, with any failure (a layout it does not know included) as a `RecordProblem`."""
    try:
        return work_row(rec, abstract)
    except RecordProblem as problem:
        return problem
    except (AttributeError, TypeError, ValueError) as err:
        return RecordProblem(f"unexpected OpenAlex work layout ({type(err).__name__}: {err})", short_id(rec.get("id")))


# The fields of a work record that `work_row` and `record_kind` read, each with the one type it
# has in OpenAlex data: a record that has them so decodes into a dict of them alone, anything
# else fails and is decoded in full. Integers are limited to 64 bits (orjson gives larger ones as
# float, and the values must be exactly those of a full decode). The id must end in a W... part:
# an author's line (its id comes first) then fails at once instead of after a scan of the whole
# record; `record_kind` still decides what is a work, this only has to let every work through.
_Int = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
_WorkId = Annotated[str, msgspec.Meta(pattern=r"(?:^|/)\s*[wW][^/]*$")]


class _Institution(TypedDict, total=False):
    country_code: str | None
    display_name: str | None


class _AuthorRef(TypedDict, total=False):
    id: str | None
    display_name: str | None
    orcid: str | None


class _Authorship(TypedDict, total=False):
    author: _AuthorRef | None
    institutions: list[_Institution] | None
    countries: list[str] | None


class _Named(TypedDict, total=False):
    display_name: str | None
    score: _Int | float | None


class _WorkFields(TypedDict, total=False):
    id: _WorkId | None
    title: str | None
    display_name: str | None
    publication_year: _Int | None
    abstract_inverted_index: msgspec.Raw  # its JSON text: see `decode_work`
    authorships: list[_Authorship] | None
    topics: list[_Named] | None
    concepts: list[_Named] | None
    results: Any  # only looked for: a line with `results` is an API page, decoded in full


_decode_fields = msgspec.json.Decoder(_WorkFields).decode


def decode_work(line: bytes | memoryview) -> WorkRow | RecordProblem | None:
    """`work_row_or_problem` of the work record on a JSON Lines line of valid UTF-8 (msgspec
    does not check the text of the fields it skips), decoding only the fields it reads; None if
    the line holds anything else (another record or layout, a JSON error), for the caller to
    decode in full. Not building the other ~8 kB of a work record makes this faster than a full
    decode; the row is the same.

    The abstract is rebuilt from the JSON text of ``abstract_inverted_index`` in C
    (``matcher/_abstracts.c``: decoding it into Python was half the cost of a work record),
    or, where that declines, from its full decode as before.
    """
    try:
        rec = _decode_fields(line)
    except (msgspec.MsgspecError, UnicodeDecodeError):
        return None
    if "results" in rec or record_kind(rec) != "work":
        return None
    abstract = None
    if (raw := rec.get("abstract_inverted_index")) is not None:
        abstract = abstract_from_json(raw)
        if abstract is None:
            try:
                rec["abstract_inverted_index"] = orjson.loads(memoryview(raw))
            except orjson.JSONDecodeError:
                return None
    return work_row_or_problem(rec, abstract)
