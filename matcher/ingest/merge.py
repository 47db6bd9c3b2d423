"""One profile per person: records with the same ORCID iD, OpenAlex id or profile id are merged.

The same researcher often arrives several times: from ORCID and from OpenAlex, or as two
OpenAlex authors that share an ORCID. `merge_profiles` joins such records (transitively) into
the first of them, in input order:

- works: the union, by work id and then by title (case, spacing and punctuation ignored); for a
  work found twice, the co-authors are joined;
- keywords: the union, in order;
- name, country, institution, capacity, orcid, openalex, role, sme and private fields: the first
  non-empty;
- co-author references to a merged-away profile id are rewritten to the surviving id.

Records with different ORCID iDs are never merged, even if another key links them; the note says
so. Only profiles of the same kind are merged. Each merge gives a note such as
``merged openalex-A1 into orcid-0000-0002-1825-0097: same ORCID 0000-0002-1825-0097``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection, Sequence
from operator import attrgetter

from matcher.domain.errors import InvalidProfile
from matcher.domain.profiles import MAX_WORKS, Profile, Work, parse_profile, profile_to_dict
from matcher.ingest.build import MAX_COAUTHORS, most_recent
from matcher.ingest.files import Location

__all__ = ["merge_profiles"]

_KEYS = (("id", "same id"), ("orcid", "same ORCID"), ("openalex", "same OpenAlex id"))
_NOT_WORD = re.compile(r"\W+")


def _title_key(title: str) -> str:
    return _NOT_WORD.sub(" ", title.casefold()).strip()


def _join(base: Profile, other: Profile) -> Profile:
    works: list[Work] = list(base.works)
    by_id = {w.id: i for i, w in enumerate(works)}
    by_title = {_title_key(w.title): i for i, w in enumerate(works)}
    for work in other.works:
        i = by_id.get(work.id, by_title.get(_title_key(work.title)))
        if i is None:
            by_id[work.id] = by_title[_title_key(work.title)] = len(works)
            works.append(work)
        else:
            kept = works[i]
            coauthors = tuple(dict.fromkeys(kept.coauthors + work.coauthors))[:MAX_COAUTHORS]
            works[i] = dataclasses.replace(
                kept, coauthors=coauthors, abstract=kept.abstract or work.abstract, year=kept.year or work.year
            )
    return dataclasses.replace(
        base,
        name=base.name or other.name,
        country=base.country or other.country,
        institution=base.institution or other.institution,
        keywords=tuple(dict.fromkeys(base.keywords + other.keywords)),
        works=tuple(works),
        capacity=base.capacity if base.capacity is not None else other.capacity,
        orcid=base.orcid or other.orcid,
        openalex=base.openalex or other.openalex,
        private={**other.private, **base.private},
        role=base.role or other.role,
        sme=base.sme if base.sme is not None else other.sme,
    )


class _Groups:
    """Union-find over record indices that refuses to join two different ORCID iDs."""

    def __init__(self, profiles: Sequence[Profile]):
        self.parent = list(range(len(profiles)))
        self.orcid = [p.orcid for p in profiles]

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> bool:
        a, b = sorted((self.find(i), self.find(j)))
        if a == b:
            return True
        if self.orcid[a] and self.orcid[b] and self.orcid[a] != self.orcid[b]:
            return False
        self.parent[b] = a
        self.orcid[a] = self.orcid[a] or self.orcid[b]
        return True


def _rewrite(profile: Profile, renamed: dict[str, str]) -> Profile:
    if not any(c in renamed for w in profile.works for c in w.coauthors):
        return profile
    works = []
    for work in profile.works:
        people = dict.fromkeys(renamed.get(c, c) for c in work.coauthors)
        people.pop(profile.id, None)
        works.append(dataclasses.replace(work, coauthors=tuple(people)))
    return dataclasses.replace(profile, works=tuple(works))


def _nothing_to_merge(items: Sequence[Profile], distinct: Collection[str]) -> bool:
    """Whether no id, ORCID iD or OpenAlex id occurs twice: the usual case, told by set sizes
    (C loops, several times faster than the pass in `merge_profiles`). A value shared only by
    profiles of different kinds, which are not merged, is left to that pass. Keys in `distinct`
    are known to be unique."""
    for key, _ in _KEYS:
        if key in distinct:
            continue
        values = list(filter(None, map(attrgetter(key), items)))
        if len(set(values)) < len(values):
            return False
    return True


def merge_profiles(
    profiles: Sequence[tuple[Location, Profile]], distinct: Collection[str] = (),
) -> tuple[list[tuple[Location, Profile]], list[str]]:
    """The profiles with duplicates merged into their first record, and a note per merge.
    `distinct`: keys (``id``, ``orcid``, ``openalex``) no two of the profiles share, as a
    reader may know (`matcher.ingest.readers.ReadResult.distinct`); only the others are looked at."""
    items = [p for _, p in profiles]
    if _nothing_to_merge(items, distinct):
        return list(profiles), []
    groups = _Groups(items)
    owner: dict[tuple[str, str, str], int] = {}
    link: dict[int, tuple[int, str, str]] = {}  # record -> (earlier record, why, value)
    notes: list[str] = []
    for i, profile in enumerate(items):
        for key, why in _KEYS:
            value = getattr(profile, key)
            if not value:
                continue
            j = owner.setdefault((profile.kind, key, value), i)
            if j == i:
                continue
            if groups.union(j, i):
                link.setdefault(i, (j, why, value))
                link.setdefault(j, (i, why, value))
            else:
                notes.append(f"not merged: {items[j].id} and {profile.id} have the {why[5:]} {value} "
                             f"but different ORCID iDs ({items[j].orcid}, {profile.orcid})")
    if not link:
        return list(profiles), notes
    merged: dict[int, Profile] = {}
    renamed: dict[str, str] = {}
    for i, profile in enumerate(items):
        root = groups.find(i)
        if root == i:
            merged[i] = profile
            continue
        merged[root] = _join(merged[root], profile)
        renamed[profile.id] = items[root].id
        j, why, value = link[i]
        via = "" if j == root else f" (as {items[j].id})"
        if profile.id == items[root].id:
            notes.append(f"merged a second record of {profile.id} into the first: {why}")
        else:
            notes.append(f"merged {profile.id} into {items[root].id}: {why} {value}{via}")
    out: list[tuple[Location, Profile]] = []
    for i, (where, _) in enumerate(profiles):
        if i in merged:
            out.append((where, _checked(_rewrite(merged[i], renamed), notes)))
    return out, notes


def _checked(profile: Profile, notes: list[str]) -> Profile:
    """A merged profile trimmed to the format's limits and validated again."""
    if len(profile.works) > MAX_WORKS:
        notes.append(f"{profile.id}: kept the {MAX_WORKS} most recent of {len(profile.works)} merged works")
        profile = dataclasses.replace(profile, works=tuple(most_recent(profile.works)))
    if len(profile.keywords) > 200:
        profile = dataclasses.replace(profile, keywords=profile.keywords[:200])
    try:
        return parse_profile(profile_to_dict(profile, private=True))
    except InvalidProfile as err:  # pragma: no cover - both inputs were valid profiles
        raise AssertionError(f"merging produced an invalid profile: {err}") from err
