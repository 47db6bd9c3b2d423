"""The C parts of OpenAlex reading (`matcher._gather`) against the Python ones.

`attach` gives each work to its authors on the same objects as `_Reader.attach`; a read with
the extension and one without it must give the same profiles, rejections and notes, whatever the
works hold: authors listed twice, authors met first in an author record, works given again,
places and years in any order, more co-authors than a work keeps. `authorships` reads a work's
authorships as `_typed_authorships` does, `top_topics` counts as `_most_frequent` does.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.sources import openalex, openalex_records, read_source
from matcher.sources.build import MAX_COAUTHORS, make_profile
from matcher.sources.build import gather as _gather  # matcher._gather, or None where it is not built
from matcher.sources.openalex_records import WorkRow
from tests.test_sources_build import work_records

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "sources"


def test_the_c_attach_is_built():
    assert _gather is not None, (
        "matcher._gather is not built: `pip install -e .` needs a C compiler (setup.py); "
        "without it OpenAlex works are given to their authors in Python, more slowly"
    )


def _both(records: list) -> tuple:
    """The result of reading `records` with the C attach and without it."""
    fast = openalex._Reader("x.jsonl")
    slow = openalex._Reader("x.jsonl", fast=False)
    assert fast.fast and not slow.fast
    for reader in (fast, slow):
        for where, item in records:
            reader.add(where, item)
    return fast.finish(), slow.finish()


AUTHOR_IDS = [f"A{i}" for i in range(8)]
places = st.one_of(st.none(), st.sampled_from([("DE", "Uni A"), ("FR", ""), ("NO", "Uni B"), ("XX", "Nowhere")]))
authorships = st.lists(
    st.tuples(st.sampled_from(AUTHOR_IDS), st.sampled_from(["", "Ana", "Bo"]),
              st.sampled_from([None, "0000-0002-1825-0097", "0000-0002-1825-0098"]), places),
    min_size=1, max_size=6,
)
rows = st.builds(
    lambda wid, title, year, topics, people: WorkRow(
        wid, title, "", year, topics, [(aid, i, *rest) for i, (aid, *rest) in enumerate(people)]
    ),
    st.sampled_from([f"W{i}" for i in range(12)]), st.sampled_from(["T", "Soil carbon"]),
    st.one_of(st.none(), st.integers(1990, 2025)), st.sampled_from([[], ["Karst"], ["Karst", "Soil"]]), authorships,
)
author_records = st.builds(
    lambda aid, country: {"id": f"https://openalex.org/{aid}", "display_name": "Rec Name",
                          "last_known_institutions": [{"country_code": country, "display_name": "Inst"}]},
    st.sampled_from(AUTHOR_IDS), st.sampled_from(["GR", "PT"]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(rows, rows, rows, author_records), max_size=25))
def test_c_and_python_attach_give_the_same_result(items):
    records = [(line if line % 3 else f"{line}:results[0]", item) for line, item in enumerate(items, 1)]
    fast, slow = _both(records)
    assert fast == slow


def test_large_author_lists_are_capped_and_deduplicated_alike():
    people = [(f"A{i % 300}", i, f"N{i}", None, ("DE", "U")) for i in range(450)]  # 150 listed twice
    row = WorkRow("W1", "Big", "abstract", 2020, ["Physics"], people)
    fast, slow = _both([(1, row), (2, row), (3, row._replace(id="W2", authors=people[:40]))])
    assert fast == slow
    profiles = {p.id: p for _, p in fast.profiles}
    assert len(profiles) == 300 and len(fast.rejected) == 1  # the second record of W1
    assert all(len(w.coauthors) == MAX_COAUTHORS for w in profiles["openalex-A0"].works[:1])
    assert len(profiles["openalex-A0"].works[1].coauthors) == 39  # 40 distinct authors in W2


def test_the_fixture_file_reads_alike():
    lines = (FIXTURES / "openalex_works_page.json").read_text()
    records = [(i, WorkRow(*openalex.work_row_or_problem(r))) for i, r in enumerate(json.loads(lines)["results"])]
    fast, slow = _both(records)
    assert fast == slow and fast.profiles


@settings(max_examples=500, deadline=None)
@given(st.lists(st.lists(st.sampled_from(["Karst", "Soil", "Crop", "Fjord", "Ice", "Rain", "Sand"]), max_size=4),
                max_size=14))
def test_top_topics_in_c_are_the_python_ones(lists):
    assert _gather is not None
    copies = [["".join(list(topic)) for topic in topics] for topics in lists]  # equal strings, not the same objects
    assert _gather.top_topics(copies, openalex.KEYWORDS) == openalex._most_frequent(lists)


@settings(max_examples=400, deadline=None)
@given(record=work_records())
def test_authorships_in_c_are_the_python_ones(record):
    assert _gather is not None
    try:
        decoded = openalex_records._decode_fields(json.dumps(record).encode())
    except msgspec.ValidationError:  # a layout the fast decoder leaves to a full decode
        return
    assert _gather.authorships(decoded.authorships) == openalex_records._typed_authorships(decoded.authorships)


def test_authorships_ids_orcids_and_places_in_c():
    assert _gather is not None
    authorships = [
        {"author": {"id": "https://openalex.org/A1", "display_name": "Ana",
                    "orcid": " https://orcid.org/0000-0002-1825-0097 "},
         "institutions": [{"country_code": "", "display_name": "No"}, {"country_code": "PT", "display_name": None}]},
        {"author": {"id": " a2 ", "display_name": ""}, "countries": ["", "DE"]},
        {"author": {"id": "https://openalex.org/"}, "countries": ["NO"]},
        {"author": None}, {"author": {"id": None}}, {},
        {"author": {"id": "x/A3"}, "institutions": [], "countries": ["SE"]},
    ]
    decoded = openalex_records._decode_fields(json.dumps({"authorships": authorships}).encode())
    assert _gather.authorships(decoded.authorships) == [
        ("A1", 0, "Ana", "0000-0002-1825-0097", ("PT", "")), ("A2", 1, "", None, None), ("A3", 6, "", None, ("SE", "")),
    ]
    assert _gather.authorships(None) == [] and _gather.authorships(msgspec.UNSET) == []


def test_top_topics_past_the_searched_ones_go_through_a_dict():
    assert _gather is not None
    lists = [[f"topic {i % 400}", f"topic {i % 7}", f"topic {(i * 13) % 300}"] for i in range(900)]
    copies = [["".join(list(topic)) for topic in topics] for topics in lists]
    assert _gather.top_topics(copies, 5) == openalex._most_frequent(lists)
    assert _gather.top_topics([], 5) == [] and _gather.top_topics([["a"], ["b", "a"]], 1) == ["a"]


NO_EXTENSIONS = """
import pickle, sys
class NoExtensions:  # as on a machine without a C compiler: the extensions were never built
    def find_spec(self, name, path=None, target=None):
        if name in ("matcher._gather", "matcher._abstracts"):
            raise ImportError(f"no module named {name}")
sys.meta_path.insert(0, NoExtensions())
from pathlib import Path
from matcher.sources import build, openalex_records, read_source
assert build.gather is None and openalex_records.typed_authorships is openalex_records._typed_authorships
sys.stdout.buffer.write(pickle.dumps(read_source(Path(sys.argv[1]), workers=1)))
"""


def test_a_read_without_the_extensions_gives_the_same_result(tmp_path):
    """The Python code each extension replaces still runs where it is not built, to the same end."""
    page = json.loads((FIXTURES / "openalex_works_page.json").read_text())
    lines = [json.dumps({**work, "id": f"https://openalex.org/W{i}{k}"})
             for i in range(30) for k, work in enumerate(page["results"])]
    lines[7] = '{"id": "https://openalex.org/W999", "title": "cut'
    lines += [lines[3], (FIXTURES / "openalex_author.json").read_text().replace("\n", " ")]
    path = tmp_path / "works.jsonl"
    path.write_text("\n".join(lines) + "\n")
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", NO_EXTENSIONS, str(path)], capture_output=True, cwd=root,
                          env={**os.environ, "PYTHONPATH": str(root)}, check=True)
    without = pickle.loads(done.stdout)
    assert without == read_source(path, workers=1) and without.profiles and len(without.rejected) == 2


def test_misuse_is_an_error_not_a_crash():
    """The C code reads and writes slots by offset: anything but the objects it was set up for is
    refused (and a refused set-up changes nothing), an unset slot is an AttributeError."""
    assert _gather is not None

    class NoSlots:
        id = title = abstract = year = coauthors = None

    with pytest.raises(TypeError, match="not a slot"):
        _gather.setup_profiles(NoSlots, NoSlots)
    assert make_profile(id="p1", name="Ana", country="PT", keywords=["soil"]).country == "PT"  # still set up
    reader = openalex._Reader("x.jsonl")
    row = WorkRow("W1", "T", "", 2020, ["Karst"], [("A1", 0, "Ana", None, ("PT", ""))])
    reader.add(1, row)
    del reader.authors["A1"].works
    with pytest.raises(AttributeError, match="works"):
        reader.add(2, row._replace(id="W2"))
    reader.authors["A1"] = "not an author"
    with pytest.raises(TypeError):
        reader.add(3, row._replace(id="W3"))
    with pytest.raises(TypeError):
        reader.add(4, row._replace(id="W4", year="2020"))
    with pytest.raises(ValueError):
        _gather.top_topics([["a"]], -1)


def test_top_topics_survive_items_that_run_python_code():
    class Loud(str):
        def __eq__(self, other):  # empties the lists being counted
            lists.clear()
            return str.__eq__(self, other)

        __hash__ = str.__hash__

    lists = [[Loud("a"), Loud("b")], [Loud("a")]]
    assert _gather is not None
    _gather.top_topics(lists, 5)  # no crash; what it counts of a changing input is not specified
