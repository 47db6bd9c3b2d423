"""Ingest benchmark: parse and validate 100,000 OpenAlex work records (no store, no embedding).

Run from the project root: ``python -m bench.bench_ingest`` (prints the section as JSON).
The records are synthetic but shaped like the OpenAlex API and snapshot: URL ids, a DOI, title
and display_name, publication year and date, an ``abstract_inverted_index`` of ~150 words, 3-6
authorships (author id, name, ORCID for some; one or two institutions with ROR, type and
country_code; countries; raw affiliation strings), topics with their field hierarchy, concepts,
keywords, a primary location, referenced works and counts (~8 kB a record; real API records are
larger). 40% of authorships go to a core of N/20 authors with a heavy-tailed frequency (a few
appear in hundreds of works), the rest to a crowd of 3N authors who mostly appear once or
twice, as in a real harvest (~2 profiles per work).
The timed call is ``read_source`` end to end, as ``matcher ingest`` makes it: format detection,
JSONL decoding (with one helper process per other idle CPU, see
`matcher.ingest.parallel.auto_workers`; the process count each run chose is reported), work
parsing, abstract rebuilding, author aggregation, profile validation and the ORCID merge pass.
For context the section also reports the same read forced into one process and into two, bare
``json.loads`` of the same lines (the ceiling of any reader built on the standard library), and
the load average. The ``..._with_c_before`` keys are not measured by this run: they are the
figures of this section measured on the same machine just before the OpenAlex reader's C
extensions were removed (see `WITH_C_BEFORE`).
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from matcher.domain.profiles import valid_orcid  # noqa: E402
from matcher.ingest import read_source  # noqa: E402
from matcher.ingest.files import gc_paused  # noqa: E402
from matcher.ingest.parallel import auto_workers  # noqa: E402
from matcher.ingest.readers import ReadResult  # noqa: E402

__all__ = ["run", "write_works"]

N = 100_000
# Recorded, not measured here: this section's figures with the C extensions built, taken on the
# same 2-core machine just before they were removed (auto-workers chose one process, load
# average 1.1 before the run, 3.1 after).
WITH_C_BEFORE = {
    "openalex_works_per_s_with_c_before": 13_632,
    "openalex_one_process_works_per_s_with_c_before": 13_600,
}
_VOCAB = (
    "groundwater aquifer contaminant transport karst nitrate drought irrigation wheat yield crop "
    "adaptation soil neural network learning transformer training gradient embedding epidemic "
    "vaccine cohort infection surveillance mortality clinical climate model ocean carbon flux "
    "sediment river basin catchment hydrology remote sensing satellite imagery urban policy "
    "governance migration labour market inequality education health outcomes energy storage "
    "battery lithium hydrogen catalyst membrane polymer synthesis protein folding genome "
    "sequencing microbiome bacteria antibiotic resistance the of and in for with on a to by "
    "we show that this study results method analysis data using based approach novel"
).split()
_FUNCTION = "the of and in for with on a to by we that this is are from as an".split()
_SYLLABLES = "ka lo mi ne ru ta vo zi pe da fo gu hi ja ke li mo nu pa re si tu va we xi yo ze bo".split()
_RARE = [f"{a}{b}{c}" for a in _SYLLABLES for b in _SYLLABLES for c in ("n", "r", "s", "t", "l")]
_COUNTRIES = "DE FR IT ES PL NL BE SE PT GR TR AZ KZ UZ KE NG ZA EG US CN JP BR IN GB CH NO".split()
_TOPICS = [f"Topic {w.title()} {v.title()}" for w, v in zip(_VOCAB[::2], _VOCAB[1::2], strict=False)]


def _orcid(author: int) -> str:
    """A valid ORCID iD derived from the author number (ISO 7064 MOD 11-2 check digit)."""
    digits = f"{1000000000000000 + author * 7:015d}"[-15:]
    total = 0
    for ch in digits:
        total = (total + int(ch)) * 2
    check = (12 - total % 11) % 11
    raw = digits + ("X" if check == 10 else str(check))
    orcid = "-".join(raw[i : i + 4] for i in range(0, 16, 4))
    assert valid_orcid(orcid)
    return orcid


def _pick_author(rng: random.Random, core: int, crowd: int) -> int:
    if rng.random() < 0.4:
        return int(core * rng.random() ** 3)
    return core + rng.randrange(crowd)


def _inverted_index(rng: random.Random, n_words: int) -> dict[str, list[int]]:
    index: dict[str, list[int]] = {}
    for position in range(n_words):  # function words, topic words, and a long tail (~110 distinct)
        draw = rng.random()
        word = rng.choice(_FUNCTION) if draw < 0.3 else rng.choice(_VOCAB if draw < 0.5 else _RARE)
        index.setdefault(word, []).append(position)
    return index


def _institution(rng: random.Random, number: int) -> dict:
    country = _COUNTRIES[number % len(_COUNTRIES)]
    return {
        "id": f"https://openalex.org/I{1000 + number}",
        "display_name": f"University {number} of {country}",
        "ror": f"https://ror.org/0{number:07d}",
        "country_code": country,
        "type": rng.choice(["education", "facility", "company", "government"]),
        "lineage": [f"https://openalex.org/I{1000 + number}"],
    }


def _authorship(rng: random.Random, author: int, position: str) -> dict:
    institutions = [_institution(rng, (author * 7 + k) % 900) for k in range(rng.choice((1, 1, 2)))]
    return {
        "author_position": position,
        "author": {
            "id": f"https://openalex.org/A5{author:09d}",
            "display_name": f"Author {author} Name",
            "orcid": f"https://orcid.org/{_orcid(author)}" if author % 3 == 0 else None,
        },
        "institutions": institutions,
        "countries": sorted({i["country_code"] for i in institutions}),
        "is_corresponding": position == "first",
        "raw_author_name": f"A. {author} Name",
        "raw_affiliation_strings": [i["display_name"] for i in institutions],
        "affiliations": [
            {"raw_affiliation_string": i["display_name"], "institution_ids": [i["id"]]} for i in institutions
        ],
    }


def _work(rng: random.Random, number: int, core: int, crowd: int) -> dict:
    n_authors = rng.randint(3, 6)
    order: list[int] = []
    while len(order) < n_authors:
        author = _pick_author(rng, core, crowd)
        if author not in order:
            order.append(author)
    year = rng.randint(2005, 2025)
    topics = rng.sample(_TOPICS, 3)
    title = " ".join(rng.choice(_VOCAB) for _ in range(rng.randint(6, 14))).capitalize()
    return {
        "id": f"https://openalex.org/W{4000000000 + number}",
        "doi": f"https://doi.org/10.5555/bench.{number}",
        "title": title,
        "display_name": title,
        "publication_year": year,
        "publication_date": f"{year}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
        "ids": {"openalex": f"https://openalex.org/W{4000000000 + number}", "doi": f"10.5555/bench.{number}"},
        "language": "en",
        "type": "article",
        "primary_location": {
            "is_oa": rng.random() < 0.5,
            "landing_page_url": f"https://doi.org/10.5555/bench.{number}",
            "source": {"id": f"https://openalex.org/S{rng.randrange(5000)}", "display_name": "Journal of Things"},
        },
        "authorships": [
            _authorship(rng, a, "first" if i == 0 else ("last" if i == len(order) - 1 else "middle"))
            for i, a in enumerate(order)
        ],
        "countries_distinct_count": 2,
        "institutions_distinct_count": 3,
        "cited_by_count": rng.randrange(300),
        "topics": [
            {
                "id": f"https://openalex.org/T{10000 + _TOPICS.index(t)}",
                "display_name": t,
                "score": round(0.99 - 0.1 * k, 3),
                "subfield": {"id": "https://openalex.org/subfields/2312", "display_name": "Water Science"},
                "field": {"id": "https://openalex.org/fields/23", "display_name": "Environmental Science"},
                "domain": {"id": "https://openalex.org/domains/3", "display_name": "Physical Sciences"},
            }
            for k, t in enumerate(topics)
        ],
        "keywords": [{"id": f"https://openalex.org/keywords/{w}", "display_name": w, "score": 0.4} for w in topics[:2]],
        "concepts": [
            {"id": f"https://openalex.org/C{k}", "wikidata": f"https://www.wikidata.org/wiki/Q{k}",
             "display_name": rng.choice(_VOCAB), "level": k % 3, "score": 0.5}
            for k in range(4)
        ],
        "referenced_works": [f"https://openalex.org/W{rng.randrange(4000000000)}" for _ in range(rng.randint(5, 25))],
        "counts_by_year": [{"year": y, "cited_by_count": rng.randrange(20)} for y in range(year, min(year + 4, 2026))],
        "abstract_inverted_index": _inverted_index(rng, rng.randint(120, 180)),
        "updated_date": "2025-01-01T00:00:00.000000",
        "created_date": "2020-01-01",
    }


def write_works(path: Path, n: int = N, seed: int = 0) -> Path:
    """Write n synthetic OpenAlex work records as JSONL (the snapshot's layout, one per line)."""
    rng = random.Random(seed)
    core, crowd = max(10, n // 20), 3 * n  # a third of authors have an ORCID (author % 3 == 0)
    with path.open("w", encoding="utf-8") as out:
        for number in range(n):
            out.write(json.dumps(_work(rng, number, core, crowd), separators=(",", ":")))
            out.write("\n")
    return path


def _rates(n: int, fn: Callable[[], object], repeats: int) -> tuple[list[float], object]:
    """Works per second of each of `repeats` calls (sorted), and the last result. The previous
    result is freed before the clock starts: freeing it is not part of the next read."""
    rates, result = [], None
    for _ in range(repeats):
        result = None
        start = time.perf_counter()
        result = fn()
        rates.append(n / (time.perf_counter() - start))
    return sorted(rates), result


def _json_only(path: Path) -> int:
    """Decode every line and nothing else: the ceiling any reader built on `json` has."""
    count = 0
    with gc_paused(), path.open("rb") as fh:
        for line in fh:
            json.loads(line)
            count += 1
    return count


def run(n: int = N, repeats: int = 5) -> dict:
    """Works per second for ``read_source`` over a JSONL file of n works (median, min, max of
    `repeats` runs, each with the process count it chose), next to the same read forced into one
    process and into two (3 runs each), and to bare ``json.loads`` of the same lines."""
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        path = write_works(Path(tmp) / "works.jsonl", n)
        size_mb = path.stat().st_size / 1e6
        _json_only(path)  # warm the page cache
        read_source(path)  # and the process (allocator arenas, imports): every mode below is timed warm
        chosen: list[int] = []

        def default_read() -> ReadResult:  # what read_source(path) does, noting its choice
            chosen.append(auto_workers(path))
            return read_source(path, workers=chosen[-1])

        rates, result = _rates(n, default_read, repeats)
        one, _ = _rates(n, lambda: read_source(path, workers=1), 3)
        two, _ = _rates(n, lambda: read_source(path, workers=2), 3)
        json_only, _ = _rates(n, lambda: _json_only(path), 3)
    assert isinstance(result, ReadResult)
    return {
        "openalex_works_per_s": round(statistics.median(rates)),
        **WITH_C_BEFORE,
        "openalex_works_per_s_median": round(statistics.median(rates)),
        "openalex_works_per_s_min": round(rates[0]),
        "openalex_works_per_s_max": round(rates[-1]),
        "openalex_runs": repeats,
        "n": n,
        "openalex_auto_workers": statistics.mode(chosen),
        "openalex_auto_workers_per_run": chosen,
        "openalex_one_process_works_per_s_median": round(statistics.median(one)),
        "openalex_two_workers_works_per_s_median": round(statistics.median(two)),
        "json_loads_only_works_per_s_median": round(statistics.median(json_only)),
        "openalex_file_mb": round(size_mb, 1),
        "openalex_profiles": len(result.profiles),
        "openalex_profile_works": sum(len(p.works) for _, p in result.profiles),
        "openalex_rejected": len(result.rejected),
        "load_avg_1m_before": round(load_before, 2),
        "load_avg_1m_after": round(os.getloadavg()[0], 2),
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
