"""Pure functions over single OpenAlex records: ids, abstracts, places, names, and a work's row.

`work_row` turns one work record into the few values the profile builder needs, as plain
tuples (cheap to build, and to send between processes; see `matcher.ingest.parallel`).
`decode_work` makes that row straight from a JSON Lines line, decoding only the fields it reads.
Nothing here keeps state across records.
"""

from __future__ import annotations

from sys import intern
from typing import Annotated, Any, NamedTuple

import msgspec
import orjson
from msgspec import UNSET, UnsetType

from matcher.domain.profiles import MAX_TEXT, MAX_WORK_ID
from matcher.ingest.build import MAX_TITLE, clip, valid_year

__all__ = [
    "PREFIX", "Authorship", "Place", "RecordProblem", "WorkRow", "abstract_text", "author_place", "decode_work",
    "names", "orcid_of", "place_of", "record_kind", "short_id", "work_row", "work_row_or_problem",
]

URL = "https://openalex.org/"
PREFIX = "openalex-"  # of the profile ids of authors and the ids of works
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
    return [intern(i["display_name"]) for i in named[:top]]  # see `_typed_names`


def orcid_of(value: Any) -> str | None:
    """``https://orcid.org/0000-...`` -> ``0000-...``; None if absent."""
    if type(value) is not str or not (value := value.strip()):
        return None
    return value[value.rfind("/") + 1 :]


def _authorships(authorships: Any) -> list[Authorship]:
    out: list[Authorship] = []
    for index, authorship in enumerate(authorships if type(authorships) is list else ()):
        author = authorship.get("author") if type(authorship) is dict else None
        if type(author) is not dict:
            continue
        aid = author.get("id")
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


def _long_id(wid: str) -> RecordProblem | None:
    """The problem with a work id too long for the profile format (prefixed), if it is."""
    if len(PREFIX) + len(wid) <= MAX_WORK_ID:
        return None
    return RecordProblem(f"a work id is at most {MAX_WORK_ID - len(PREFIX)} characters, got {len(wid)}", None, "id")


def _no_title(wid: str) -> RecordProblem:
    return RecordProblem(f"work {wid} has no title; it is not attached to its authors", wid, "title")


def _no_authors(wid: str) -> RecordProblem:
    reason = f"work {wid} has no authorships with an author id; there is no one to attach it to"
    return RecordProblem(reason, wid, "authorships")


def _row(wid: str, title: str, abstract: str, year: Any, topics: list[str], authors: list[Authorship]) -> WorkRow:
    """The row of a work whose id, title and authors are known, trimmed to the format's limits."""
    if type(year) is not int or not 1900 <= year <= 2100:
        year = valid_year(year)
    abstract = abstract.strip()
    if len(abstract) > MAX_TEXT:
        abstract = clip(abstract, MAX_TEXT)
    if len(title) > MAX_TITLE:
        title = clip(title, MAX_TITLE)
    return WorkRow(wid, title, abstract, year, topics, authors)


def work_row(rec: dict[str, Any]) -> WorkRow:
    """The values a work record gives its authors; `RecordProblem` if it has none to give."""
    get = rec.get
    wid = short_id(get("id"))
    if wid is None:
        raise RecordProblem("a work record needs an id", None, "id")
    if problem := _long_id(wid):
        raise problem
    title = get("title") or get("display_name")
    if type(title) is not str or not (title := title.strip()):
        raise _no_title(wid)
    authors = _authorships(get("authorships"))
    if not authors:
        raise _no_authors(wid)
    topics = names(get("topics"), None, 3) or names(get("concepts"), "score", 3)
    return _row(wid, title, abstract_text(get("abstract_inverted_index")), get("publication_year"), topics, authors)


def work_row_or_problem(rec: dict[str, Any]) -> WorkRow | RecordProblem:
    """`work_row`, with any failure (a layout it does not know included) as a `RecordProblem`."""
    try:
        return work_row(rec)
    except RecordProblem as problem:
        return problem
    except (AttributeError, TypeError, ValueError) as err:
        return RecordProblem(f"unexpected OpenAlex work layout ({type(err).__name__}: {err})", short_id(rec.get("id")))


# The fields of a work record that `work_row` and `record_kind` read, each with the one type it
# has in OpenAlex data: a record that has them so decodes into a `_Work` of them alone (msgspec
# structs: cheaper to build than dicts, and their types need no checking), anything else fails
# and is decoded in full. Integers are limited to 64 bits (orjson gives larger ones as float,
# and the values must be exactly those of a full decode). The id must end in a W... part: an
# author's line (its id comes first) then fails at once instead of after a scan of the whole
# record. UNSET marks a field that is absent (`record_kind` asks which fields are present).
_Int = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
_WorkId = Annotated[str, msgspec.Meta(pattern=r"(?:^|/)\s*[wW][^/]*$")]


class _Institution(msgspec.Struct, gc=False):
    country_code: str | None = None
    display_name: str | None = None


class _AuthorRef(msgspec.Struct, gc=False):
    id: str | None = None
    display_name: str | None = None
    orcid: str | None = None


class _Authorship(msgspec.Struct, gc=False):
    author: _AuthorRef | None = None
    institutions: list[_Institution] | None = None
    countries: list[str] | None = None


class _Named(msgspec.Struct, gc=False):
    display_name: str | None = None
    score: _Int | float | None = None


class _Work(msgspec.Struct, gc=False):
    id: _WorkId | None | UnsetType = UNSET
    title: str | None = None
    display_name: str | None = None
    publication_year: _Int | None = None
    abstract_inverted_index: msgspec.Raw | UnsetType = UNSET  # its JSON text: see `decode_work`
    authorships: list[_Authorship] | None | UnsetType = UNSET
    topics: list[_Named] | None = None
    concepts: msgspec.Raw | UnsetType = UNSET  # read only for a work without topics: see `_typed_row`
    results: Any = UNSET  # only looked for: a line with `results` is an API page, decoded in full


_decode_fields = msgspec.json.Decoder(_Work).decode
_decode_concepts = msgspec.json.Decoder(list[_Named] | None).decode


def _typed_authorships(authorships: list[_Authorship] | None | UnsetType) -> list[Authorship]:
    """`_authorships` of decoded structs (whose types are known)."""
    out: list[Authorship] = []
    for index, authorship in enumerate(authorships or ()):
        author = authorship.author
        if author is None or (aid := author.id) is None:
            continue
        aid = aid[len(URL) :] if aid.startswith(URL) else short_id(aid)
        if not aid:
            continue
        place = None
        if institutions := authorship.institutions:
            for inst in institutions:
                if code := inst.country_code:
                    place = (code, inst.display_name or "")
                    break
        if place is None and (countries := authorship.countries) and countries[0]:
            place = (countries[0], "")
        orcid = author.orcid
        out.append((aid, index, author.display_name or "", orcid_of(orcid) if orcid else None, place))
    return out


def _typed_names(items: list[_Named] | None, ranked: bool) -> list[str]:
    """`names(items, "score" if ranked else None, 3)` of decoded structs."""
    if not items:
        return []
    named = [i for i in items if i.display_name is not None]
    if ranked:
        named.sort(key=lambda i: 0 if i.score is None else -i.score)
    # Interned: a few thousand topics recur in every file, and an author's keywords are its
    # works' most frequent topics; counting one object per topic is several times faster than
    # hashing and comparing a fresh copy from every record (and the copies are not all kept).
    return [intern(i.display_name) for i in named[:3]]  # type: ignore[misc, arg-type]


def _typed_row(rec: _Work, abstract: str) -> WorkRow | RecordProblem | None:
    """`work_row_or_problem` of a decoded `_Work`: the same checks, in the same order; None if
    its concepts, which are decoded only when it has no topics, are not of the expected types."""
    wid = short_id(rec.id)
    if wid is None:
        return RecordProblem("a work record needs an id", None, "id")
    if problem := _long_id(wid):
        return problem
    title = rec.title or rec.display_name
    if title is None or not (title := title.strip()):
        return _no_title(wid)
    authors = _typed_authorships(rec.authorships)
    if not authors:
        return _no_authors(wid)
    topics = _typed_names(rec.topics, False)
    if not topics and rec.concepts is not UNSET:  # decoding them for every work cost ~8% of a row
        try:
            topics = _typed_names(_decode_concepts(rec.concepts), True)
        except msgspec.MsgspecError:
            return None
    return _row(wid, title, abstract, rec.publication_year, topics, authors)


def decode_work(line: bytes | memoryview) -> WorkRow | RecordProblem | None:
    """`work_row_or_problem` of the work record on a JSON Lines line of valid UTF-8 (msgspec
    does not check the text of the fields it skips), decoding only the fields it reads; None if
    the line holds anything else (another record or layout, a JSON error), for the caller to
    decode in full. Not building the other ~8 kB of a work record makes this faster than a full
    decode; the row is the same.

    ``abstract_inverted_index`` is kept as its JSON text by the first decode and decoded on its
    own, only when present, by orjson; `abstract_text` rebuilds the abstract from it.
    """
    try:
        rec = _decode_fields(line)
    except (msgspec.MsgspecError, UnicodeDecodeError, RecursionError):  # deep nesting: msgspec stops at 1000
        return None
    if rec.results is not UNSET:
        return None
    if not rec.id and rec.authorships is UNSET and rec.abstract_inverted_index is UNSET:
        return None  # not a work by `record_kind`: an id, if any, ends in a W... part
    abstract = ""
    if isinstance(raw := rec.abstract_inverted_index, msgspec.Raw):
        try:
            abstract = abstract_text(orjson.loads(memoryview(raw)))
        except orjson.JSONDecodeError:
            return None
    return _typed_row(rec, abstract)
