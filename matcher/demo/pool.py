"""A deterministic, realistic demo pool of researcher profiles with a planted field structure.

`generate_pool` draws researchers in more than 50 countries from the vocabularies of `matcher.demo.vocab`.
Each researcher has a topic mixture: a primary field (most of their works) and, for about 40%,
a secondary field, usually a related one. Every work is written from the vocabulary of one field
of that mixture, keywords come from the mixture's fields, and co-authors are drawn from a small
circle of collaborators (same institution, same field at home, same field abroad). `truth` keeps
the mixture and the field of every work, so retrieval can be scored against a known answer.

Everything is drawn from one `random.Random(seed)` in a fixed order, over tuples and dicts built
in a fixed order, so the same seed gives byte-identical files in every process. Only
`write_pool` touches the disk.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matcher.demo import vocab
from matcher.demo.vocab import ABSTRACT_WORDS, FIELDS, Country, write_work

__all__ = ["ABSTRACT_WORDS", "CAREER_STAGES", "GENDERS", "YEARS", "DemoPool", "generate_pool", "write_pool"]

CAREER_STAGES = ("phd", "postdoc", "senior", "professor")
GENDERS = ("female", "male", "non-binary")
YEARS = (2012, 2025)

_STAGE_WEIGHTS = (25, 30, 25, 20)
_STAGE_WORKS = {"phd": (2, 4), "postdoc": (2, 6), "senior": (3, 8), "professor": (4, 8)}
_STAGE_FIRST_YEAR = {"phd": 2020, "postdoc": 2016, "senior": 2012, "professor": 2012}
_GENDER_WEIGHTS = (48, 49, 3)
_SECONDARY_SHARE = 0.4
_RELATED_SHARE = 0.75
_COAUTHOR_WEIGHTS = (15, 35, 32, 18)  # for 0, 1, 2, 3 co-authors on a work
_MIN_PER_COUNTRY = 3


@dataclass(frozen=True)
class DemoPool:
    """Profiles in the interchange format and, per profile id, the planted truth.

    `truth[id]` is `{"fields": {field: share of works}, "works": {work id: field}}`; the
    primary field comes first in `fields`.
    """

    profiles: list[dict[str, Any]]
    truth: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class _Person:
    """A researcher while the pool is built; `fields` holds the primary field first."""

    row: int
    pid: str
    country: Country
    institution: str
    fields: tuple[str, ...]
    stage: str
    gender: str


def generate_pool(seed: int = 7, n_researchers: int = 1600) -> DemoPool:
    """Build the demo pool; the same `seed` and size always give the same pool."""
    if n_researchers < 2 * len(FIELDS):
        raise ValueError(f"n_researchers must be at least {2 * len(FIELDS)}, got {n_researchers}")
    rng = random.Random(seed)
    countries = _country_slots(n_researchers)
    primaries = _primary_fields(rng, countries)
    counts = Counter(c.code for c in countries)
    institutions = {c.code: _institutions(rng, c, counts[c.code]) for c in vocab.COUNTRIES if counts[c.code]}
    people = _people(rng, countries, primaries, institutions)
    circles = _circles(rng, people)
    built = sorted((_profile(rng, person, people, circles) for person in people), key=lambda pt: pt[0]["id"])
    return DemoPool(profiles=[p for p, _ in built], truth={p["id"]: t for p, t in built})


def write_pool(pool: DemoPool, directory: Path) -> None:
    """Write `profiles.jsonl` and `truth.json` into `directory`, each atomically."""
    directory.mkdir(parents=True, exist_ok=True)
    lines = "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in pool.profiles)
    _write_atomic(directory / "profiles.jsonl", lines)
    _write_atomic(directory / "truth.json", json.dumps(pool.truth, ensure_ascii=False, indent=1) + "\n")


def _write_atomic(path: Path, text: str) -> None:
    """Write to a temporary file next to `path`, then move it into place."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# -- countries, fields, institutions, people ------------------------------------------------


def _country_slots(n: int) -> list[Country]:
    """One country per researcher, grouped by country: a floor each, the rest by weight."""
    floor = min(_MIN_PER_COUNTRY, n // (2 * len(vocab.COUNTRIES)))
    rest = n - floor * len(vocab.COUNTRIES)
    total = sum(c.weight for c in vocab.COUNTRIES)
    exact = [rest * c.weight / total for c in vocab.COUNTRIES]
    quota = [floor + int(e) for e in exact]
    by_remainder = sorted(range(len(vocab.COUNTRIES)), key=lambda i: (int(exact[i]) - exact[i], i))
    for i in by_remainder[: n - sum(quota)]:
        quota[i] += 1
    return [c for c, q in zip(vocab.COUNTRIES, quota, strict=True) for _ in range(q)]


def _primary_fields(rng: random.Random, countries: list[Country]) -> list[str]:
    """Deal the fields round-robin over the country-grouped rows, then shuffle within countries.

    Dealing spreads every field over many countries, so everyone has a same-field peer abroad.
    """
    order = rng.sample(list(FIELDS), len(FIELDS))
    fields = [order[i % len(order)] for i in range(len(countries))]
    start = 0
    for _, block in itertools.groupby(countries, key=lambda c: c.code):
        end = start + len(list(block))
        chunk = fields[start:end]
        rng.shuffle(chunk)
        fields[start:end] = chunk
        start = end
    return fields


def _institutions(rng: random.Random, country: Country, researchers: int) -> tuple[str, ...]:
    """A few institutions of a country: the university of its first listed city, then a mix."""
    wanted = max(1, min(6, researchers // 20 + 1))
    universities = [f"University of {city}" for city in country.cities[1:]]
    others = [p.format(city=city) for p in vocab.CITY_INSTITUTION_PATTERNS for city in country.cities]
    others += [p.format(adjective=country.adjective) for p in vocab.COUNTRY_INSTITUTION_PATTERNS]
    rng.shuffle(universities)
    rng.shuffle(others)
    mixed = [name for pair in itertools.zip_longest(others, universities) for name in pair if name]
    return (f"University of {country.cities[0]}", *mixed[: wanted - 1])


def _people(
    rng: random.Random, countries: list[Country], primaries: list[str], institutions: dict[str, tuple[str, ...]]
) -> list[_Person]:
    """Number researchers per country (de-0001, ...) and give each a mixture and a post."""
    numbers: Counter[str] = Counter()
    people = []
    for row, (country, primary) in enumerate(zip(countries, primaries, strict=True)):
        numbers[country.code] += 1
        places = institutions[country.code]
        people.append(
            _Person(
                row=row,
                pid=f"{country.code.lower()}-{numbers[country.code]:04d}",
                country=country,
                institution=rng.choices(places, weights=range(len(places), 0, -1))[0],
                fields=(primary, *_secondary(rng, primary)),
                stage=rng.choices(CAREER_STAGES, weights=_STAGE_WEIGHTS)[0],
                gender=rng.choices(GENDERS, weights=_GENDER_WEIGHTS)[0],
            )
        )
    return people


def _secondary(rng: random.Random, primary: str) -> tuple[str, ...]:
    """No secondary field, or one: usually related to the primary, sometimes any other."""
    if rng.random() >= _SECONDARY_SHARE:
        return ()
    if rng.random() < _RELATED_SHARE:
        return (rng.choice(FIELDS[primary].related),)
    return (rng.choice([f for f in FIELDS if f != primary]),)


# -- co-authors ---------------------------------------------------------------------------


def _circles(rng: random.Random, people: list[_Person]) -> dict[tuple[int, str], list[int]]:
    """Per researcher and field of their mixture, the rows of a few regular collaborators."""
    by_field: dict[str, list[int]] = defaultdict(list)
    by_place: dict[tuple[str, str], list[int]] = defaultdict(list)
    for person in people:
        by_place[person.country.code, person.institution].append(person.row)
        for name in person.fields:
            by_field[name].append(person.row)
    return {
        (p.row, name): _circle(rng, p, name, people, by_field[name], by_place[p.country.code, p.institution])
        for p in people
        for name in p.fields
    }


def _circle(
    rng: random.Random, person: _Person, field: str, people: list[_Person], peers: list[int], colleagues: list[int]
) -> list[int]:
    """Two to five distinct collaborators, each from the institution, the country or abroad."""
    size = rng.randint(2, 5)
    circle: list[int] = []
    for _ in range(3 * size):
        pick = _collaborator(rng, person, field, people, peers, colleagues)
        if pick is not None and pick not in circle:
            circle.append(pick)
        if len(circle) == size:
            break
    return circle


def _collaborator(
    rng: random.Random, person: _Person, field: str, people: list[_Person], peers: list[int], colleagues: list[int]
) -> int | None:
    """One draw: a colleague (same field if any), a same-field peer at home, or one abroad."""
    roll = rng.random()
    home = person.country.code
    if roll < 0.4:
        pool = [r for r in colleagues if r != person.row]
        pool = [r for r in pool if field in people[r].fields] or pool
    elif roll < 0.75:
        pool = [r for r in peers if r != person.row and people[r].country.code == home]
    else:
        pool = [r for r in peers if people[r].country.code != home]
    return rng.choice(pool) if pool else None


# -- profiles and texts -------------------------------------------------------------------


def _profile(
    rng: random.Random, person: _Person, people: list[_Person], circles: dict[tuple[int, str], list[int]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The interchange dict of one researcher and its planted truth."""
    labels = _work_fields(rng, person)
    years = sorted(rng.randint(_STAGE_FIRST_YEAR[person.stage], YEARS[1]) for _ in labels)
    works = []
    for number, (field, year) in enumerate(zip(labels, years, strict=True), start=1):
        title, abstract = write_work(rng, FIELDS[field], year)
        circle = circles[person.row, field]
        picked = rng.sample(circle, min(len(circle), rng.choices(range(4), weights=_COAUTHOR_WEIGHTS)[0]))
        work = {"id": f"{person.pid}-w{number}", "title": title, "abstract": abstract, "year": year}
        works.append({**work, "coauthors": [people[row].pid for row in picked]})
    profile = {
        "id": person.pid,
        "name": _name(rng, person.country, person.gender),
        "kind": "researcher",
        "country": person.country.code,
        "institution": person.institution,
        "keywords": _keywords(rng, person.fields),
        "works": works,
        "capacity": rng.randint(1, 4),
        "career_stage": person.stage,
        "gender": person.gender,
    }
    planted = {w["id"]: field for w, field in zip(works, labels, strict=True)}
    truth = {"fields": _mixture(person.fields, labels), "works": planted}
    return profile, truth


def _work_fields(rng: random.Random, person: _Person) -> list[str]:
    """The field of each work: the primary field always holds strictly the most works."""
    low, high = _STAGE_WORKS[person.stage]
    if len(person.fields) == 1:
        return [person.fields[0]] * rng.randint(low, high)
    count = rng.randint(max(3, low), high)
    secondary = min(max(1, round(count * rng.uniform(0.2, 0.45))), (count - 1) // 2)
    labels = [person.fields[0]] * (count - secondary) + [person.fields[1]] * secondary
    rng.shuffle(labels)
    return labels


def _mixture(fields: tuple[str, ...], labels: list[str]) -> dict[str, float]:
    """Share of works per field, primary first, rounded to four places and summing to one."""
    counts = Counter(labels)
    shares = {name: round(counts[name] / len(labels), 4) for name in fields[1:]}
    return {fields[0]: round(1.0 - sum(shares.values()), 4), **shares}


def _keywords(rng: random.Random, fields: tuple[str, ...]) -> list[str]:
    """Three to five terms of the primary field, one or two of a secondary one."""
    chosen = rng.sample(FIELDS[fields[0]].terms, rng.randint(3, 5))
    for name in fields[1:]:
        chosen += rng.sample(FIELDS[name].terms, rng.randint(1, 2))
    return list(dict.fromkeys(chosen))


def _name(rng: random.Random, country: Country, gender: str) -> str:
    """A plausible name of the country's naming region, family name in the matching form."""
    names = vocab.NAMES[country.region]
    feminine = gender == "female" or (gender == "non-binary" and rng.random() < 0.5)
    first = rng.choice(names.female if feminine else names.male)
    index = rng.randrange(len(names.family))
    family = names.family_female[index] if feminine and names.family_female else names.family[index]
    return f"{first} {family}"
