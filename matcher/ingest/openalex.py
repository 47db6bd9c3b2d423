"""OpenAlex authors and works -> researcher profiles.

Input: author and/or work records as the OpenAlex API and snapshot give them: one JSON object, a
list, an API page ``{"meta": ..., "results": [...]}``, or JSON Lines (optionally ``.gz``), see
`matcher.ingest.files`. A record is a work if its id is ``https://openalex.org/W...`` (or it
has ``authorships`` / ``abstract_inverted_index``), an author if its id is ``.../A...`` (or it
has ``last_known_institutions`` / ``affiliations``).

Each author becomes a profile ``openalex-A123`` with ``openalex`` = ``A123`` and ``orcid`` from
its ORCID URL. Country and institution come from ``last_known_institutions[].country_code``,
else the older ``last_known_institution``, else the most recent ``affiliations``; else, as for
an author seen only in works' ``authorships``, from the institutions (or ``countries``) of its
most recent authorship. Keywords are the display names of the author's top topics (by count),
else ``x_concepts`` (by score), else the most frequent topics of its works.

Each work (``openalex-W456``: title, abstract rebuilt from ``abstract_inverted_index``,
``publication_year``) is attached to every author in its ``authorships``; its ``coauthors`` are
the work's other authors as profile ids. An author with more works than a profile holds keeps
its most recent ones, with a note. Rejected: undecodable lines, records that are neither author
nor work, duplicate records, works without a title or without any author id, and authors
without a country or that fail validation; each with its line or JSON path.

Work lines of JSON Lines are decoded into only the fields used (`openalex_records.decode_work`),
anything else in full; a large file is decoded by this process and one helper process per other
idle CPU (`matcher.ingest.parallel`), to the same result as a read in one process.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from itertools import chain
from pathlib import Path
from typing import Any

from matcher.domain.errors import InvalidProfile
from matcher.domain.profiles import MAX_WORKS, Profile, Work
from matcher.ingest.bounds import DEFAULT_LIMITS, ReadLimits
from matcher.ingest.build import MAX_COAUTHORS, checked_work, make_profile, most_recent
from matcher.ingest.files import Location, gc_paused, json_records, subpath
from matcher.ingest.openalex_records import (
    PREFIX,
    Place,
    RecordProblem,
    WorkRow,
    abstract_text,
    author_place,
    decode_work,
    names,
    orcid_of,
    record_kind,
    short_id,
    work_row_or_problem,
)
from matcher.ingest.parallel import auto_workers, parallel_records
from matcher.ingest.readers import ReadResult, Rejection

__all__ = ["PREFIX", "abstract_text", "parse_openalex", "read_openalex", "short_id"]

KEYWORDS = 5


class _Author:
    """What is known about one author so far: its record, if seen, and its works."""

    __slots__ = ("short", "pid", "where", "record", "name", "orcid", "place", "place_year", "works", "topics")

    def __init__(self, short: str, where: Location | tuple[Location, int], name: str = "", orcid: str | None = None):
        self.short, self.pid, self.where = short, PREFIX + short, where
        self.record: dict[str, Any] | None = None
        self.name, self.orcid = name, orcid
        self.place: Place | None = None
        self.place_year = -1
        self.works: list[Work] = []
        self.topics: list[list[str]] = []


def _most_frequent(topic_lists: list[list[str]]) -> list[str]:
    """The `KEYWORDS` most frequent topics, first seen first among equals (as
    `Counter.most_common`; counted in a plain loop for the many authors with a few works,
    where building a `Counter` costs more than the counting)."""
    if len(topic_lists) > 8:
        counts: dict[str, int] = Counter(chain.from_iterable(topic_lists))
    else:
        counts = {}
        count = counts.get
        for topics in topic_lists:
            for topic in topics:
                counts[topic] = count(topic, 0) + 1
    return sorted(counts, key=counts.__getitem__, reverse=True)[:KEYWORDS]


def _where(where: Location | tuple[Location, int]) -> Location:
    if not isinstance(where, tuple):
        return where
    line, index = where
    return f"{line}:authorships[{index}]" if type(line) is int else subpath(line, f"authorships[{index}]")


class _Reader:
    """Collects authors and works record by record, then builds the profiles."""

    def __init__(self, source: str):
        self.source = source
        self.authors: dict[str, _Author] = {}
        self.works: dict[str, Location] = {}
        self.profiles: list[tuple[Location, Profile]] = []
        self.rejected: list[Rejection] = []
        self.notes: list[str] = []

    def reject(self, where: Location, reason: str, record_id: str | None = None, field: str | None = None) -> None:
        self.rejected.append(Rejection(where, reason, record_id, field, self.source))

    def add(self, where: Location, item: Any) -> None:
        """One record: a decoded object, or what a worker made of it (a `WorkRow`, a
        `RecordProblem`) or a `Rejection` for a line that is not JSON."""
        if type(item) is dict:
            kind = record_kind(item)
            if kind == "author":
                return self.author(where, item)
            if kind is None:
                return self.reject(where, "neither an OpenAlex author nor a work (no A... or W... id, no authorships)")
            item = work_row_or_problem(item)
        if type(item) is WorkRow:
            self.attach(where, item)
        elif isinstance(item, RecordProblem):
            self.reject(where, item.reason, item.record_id, item.field)
        elif isinstance(item, Rejection):
            self.reject(where, item.reason)
        else:
            self.reject(where, f"expected a JSON object, got {type(item).__name__}")

    def author(self, where: Location, rec: dict[str, Any]) -> None:
        aid = short_id(rec.get("id"))
        if aid is None:
            return self.reject(where, "an author record needs an id", field="id")
        acc = self.authors.get(aid)
        if acc is None:
            acc = self.authors[aid] = _Author(aid, where)
        elif acc.record is not None:
            first = _where(acc.where)
            return self.reject(where, f"duplicate author record; the first is at {first}", PREFIX + aid, "id")
        acc.record, acc.where = rec, where

    def attach(self, where: Location, row: WorkRow) -> None:
        """Give the work to each of its authors, with the others as co-authors. A work id is
        taken once (a second record of it is rejected), and an author listed twice in a work
        gets it once, so no author has two works with the same id."""
        wid, title, abstract, year, topics, authorships = row
        if wid in self.works:
            return self.reject(where, f"duplicate work record; the first is at {self.works[wid]}", wid, "id")
        self.works[wid] = where
        authors, rank = self.authors, year or 0
        members: dict[str, _Author] = {}
        for aid, index, name, orcid, place in authorships:
            acc = authors.get(aid)
            if acc is None:
                acc = authors[aid] = _Author(aid, (where, index), name, orcid)
            elif not acc.name and acc.record is None:
                acc.name, acc.orcid = name, acc.orcid or orcid
            if place is not None and rank > acc.place_year:  # the most recent authorship's place
                acc.place, acc.place_year = place, rank
            members[acc.pid] = acc
        work_id, ids = PREFIX + wid, tuple(members)
        crowd = len(ids) > MAX_COAUTHORS + 1  # cap the co-author list, without O(n^2) copies
        for k, acc in enumerate(members.values()):
            others = tuple(p for p in ids[: MAX_COAUTHORS + 1] if p != acc.pid)[:MAX_COAUTHORS] if crowd else (
                ids[:k] + ids[k + 1 :]
            )
            acc.works.append(checked_work(work_id, title, abstract, year, others))
            acc.topics.append(topics)

    def profile(self, acc: _Author) -> None:
        pid, rec, where = acc.pid, acc.record, _where(acc.where)
        name, orcid, place, keywords = acc.name, acc.orcid, acc.place, None
        if rec is not None:
            shown = rec.get("display_name")
            name = shown if isinstance(shown, str) else name
            ids = rec.get("ids")
            orcid = orcid_of(rec.get("orcid") or (ids.get("orcid") if isinstance(ids, dict) else None)) or orcid
            place = author_place(rec) or place
            keywords = names(rec.get("topics"), "count", KEYWORDS) or names(rec.get("x_concepts"), "score", KEYWORDS)
        if place is None:
            reason = (
                "no country: no last_known_institutions with a country_code (nor last_known_institution "
                "or affiliations), and no authorship in this file gives one"
                if rec is not None
                else f"no country: author {acc.short} appears only in works here, and none of its "
                "authorships has an institution with a country_code"
            )
            return self.reject(where, reason, pid, "country")
        if not keywords:
            keywords = acc.topics[0] if len(acc.topics) == 1 else _most_frequent(acc.topics)
        works = acc.works
        if len(works) > MAX_WORKS:
            works = most_recent(works)
            self.notes.append(f"{pid}: kept the {MAX_WORKS} most recent of {len(acc.works)} works")
        try:
            profile = make_profile(
                id=pid, name=name, country=place[0], institution=place[1], keywords=keywords,
                works=works, orcid=orcid, openalex=acc.short, distinct_works=True,  # see `attach`
            )
        except InvalidProfile as err:
            return self.reject(where, err.reason, pid, err.field)
        self.profiles.append((where, profile))

    def finish(self) -> ReadResult:
        for acc in self.authors.values():
            try:
                self.profile(acc)
            except (AttributeError, TypeError, ValueError) as err:  # an author record of unknown layout
                reason = f"unexpected OpenAlex record layout ({type(err).__name__}: {err})"
                self.reject(_where(acc.where), reason, PREFIX + acc.short)
        # One author per OpenAlex id, one id per author: the merge only needs to look at ORCID iDs.
        return ReadResult(self.profiles, self.rejected, self.notes, frozenset({"id", "openalex"}))


def parse_openalex(records: Iterable[tuple[Location, Any]], source: str = "") -> ReadResult:
    """Profiles from (location, OpenAlex record) pairs; a `Rejection` in place of a record is
    passed on. `source` names the file in rejections."""
    reader = _Reader(source)
    with gc_paused():
        for where, item in records:
            reader.add(where, item)
        return reader.finish()


def read_openalex(path: Path, workers: int | None = None, limits: ReadLimits = DEFAULT_LIMITS) -> ReadResult:
    """Profiles from an OpenAlex JSON, JSON Lines or API-page file (``.gz`` accepted), within `limits`.

    `workers`: processes decoding a JSON Lines file, this one included; by default as many as
    CPUs are idle for a large file (see `matcher.ingest.parallel.auto_workers`), 1 to stay in
    this process.
    """
    workers = auto_workers(path) if workers is None else workers
    records = parallel_records(path, workers, limits=limits) if workers > 1 else None
    if records is None:
        records = json_records(path, decode_work, limits)
    return parse_openalex(records, source=path.name)
