"""The fast profile builder agrees with `parse_profile`; JSON shapes; parallel and fast decoding
are invisible."""

from __future__ import annotations

import gc
import io
import json
import os
import weakref
from collections import Counter
from dataclasses import FrozenInstanceError, fields
from itertools import chain
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.domain.errors import InvalidProfile
from matcher.domain.profiles import MAX_TEXT, Profile, Work, parse_profile
from matcher.ingest import files, openalex, openalex_records, parallel
from matcher.ingest.build import MAX_COAUTHORS, checked_work, clip, make_profile, make_work
from matcher.ingest.files import gc_paused, json_records, text_lines
from matcher.ingest.openalex import parse_openalex, read_openalex
from matcher.ingest.openalex_records import RecordProblem, WorkRow, decode_work, work_row_or_problem
from matcher.ingest.parallel import auto_workers, idle_cpus, parallel_records, schedule
from matcher.ingest.readers import Rejection

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "sources"

texts = st.sampled_from(["Ana Lima", "  padded  ", "Ümit Öz", "a;b", "Ana Lima", "", " ", "x" * 301])
works = st.lists(
    st.builds(
        make_work,
        st.sampled_from(["w1", "w2", "w1"]),
        st.sampled_from(["Karst springs", " Soil ", "", "y" * 1200]),
        st.sampled_from(["", "An abstract.", "z " * 11_000]),
        st.sampled_from([None, 1850, 2021, "2019", "n/a", True]),
        st.lists(st.sampled_from(["p1", " p2 ", "", "p1"]), max_size=3),
    ),
    max_size=3,
).map(lambda ws: [w for w in ws if w is not None])


@settings(max_examples=300, deadline=None)
@given(
    pid=st.sampled_from(["openalex-A1", "cordis-org-7", "orcid-0000", "openalex-A2", "", "-bad", "x" * 129, "a1\n"]),
    name=texts,
    country=st.sampled_from(["DE", "EL", "uk", "Türkiye", "kz", "Narnia", ""]),
    kind=st.sampled_from(["researcher", "organisation", "researcher", "robot"]),
    institution=texts,
    keywords=st.lists(st.sampled_from(["soil", " soil ", "", "karst"]), min_size=1, max_size=4),
    works=works,
    orcid=st.sampled_from([None, "0000-0002-1825-0097", "0000-0002-1825-0098"]),
    capacity=st.sampled_from([None, 0, 3, None, 5000]),
)
def test_make_profile_accepts_and_rejects_exactly_like_parse_profile(
    pid, name, country, kind, institution, keywords, works, orcid, capacity
):
    record = {
        "id": pid, "name": name, "country": country, "kind": kind, "institution": institution,
        "keywords": keywords, "capacity": capacity, "orcid": orcid,
        "works": [{"id": w.id, "title": w.title, "abstract": w.abstract, "year": w.year,
                   "coauthors": list(w.coauthors)} for w in works],
    }
    try:
        expected = parse_profile(record)
    except InvalidProfile as err:
        with pytest.raises(InvalidProfile) as caught:
            make_profile(id=pid, name=name, country=country, kind=kind, institution=institution,
                         keywords=keywords, works=works, orcid=orcid, capacity=capacity)
        assert (caught.value.field, caught.value.reason) == (err.field, err.reason)
        return
    built = make_profile(id=pid, name=name, country=country, kind=kind, institution=institution,
                         keywords=keywords, works=works, orcid=orcid, capacity=capacity)
    assert built == expected
    assert _fields(built) == _fields(expected)  # built without the dataclass's __init__: every field set


def _fields(obj: object) -> dict:
    return {f.name: getattr(obj, f.name) for f in fields(obj)}  # type: ignore[arg-type]


def test_checked_work_and_make_profile_set_exactly_the_dataclass_fields():
    work = checked_work("w1", "Karst", "An abstract.", 2021, ("p2",))
    expected_work = {"id": "w1", "title": "Karst", "abstract": "An abstract.", "year": 2021, "coauthors": ("p2",)}
    assert _fields(work) == expected_work
    assert work == Work("w1", "Karst", "An abstract.", 2021, ("p2",))
    profile = make_profile(id="p1", name="Ana", country="de", institution="U", keywords=["soil"], works=[work],
                           capacity=3, orcid="0000-0002-1825-0097", openalex="A1", role="REC", sme=False)
    expected = Profile(id="p1", name="Ana", country="DE", institution="U", keywords=("soil",), works=(work,),
                       capacity=3, orcid="0000-0002-1825-0097", openalex="A1", role="REC", sme=False)
    assert _fields(profile) == _fields(expected) and profile == expected
    assert [f.name for f in fields(Profile)] == [
        "id", "name", "country", "kind", "institution", "keywords", "works", "capacity", "orcid", "openalex", "private",
        "role", "sme",
    ]
    assert not hasattr(Work, "__post_init__") and not hasattr(Profile, "__post_init__")
    with pytest.raises(FrozenInstanceError):
        profile.name = "Bo"  # type: ignore[misc]


def test_make_work_trims_to_the_format_limits():
    work = make_work("w", "t " * 800, "word " * 5000, 1750, ["a", "a", " b "])
    assert work is not None
    assert len(work.title) <= 1000 and not work.title.endswith(" ")
    assert len(work.abstract) <= MAX_TEXT and work.abstract.endswith("word")
    assert (work.year, work.coauthors) == (None, ("a", "b"))
    assert make_work("w", "   ") is None
    assert clip("abc def", 5) == "abc"


def test_json_shapes_and_locations(tmp_path):
    record = {"id": "https://openalex.org/W1", "title": "T"}
    shapes = {
        "one.json": (json.dumps(record, indent=2), ["$"]),
        "list.json": (json.dumps([record, record]), ["[0]", "[1]"]),
        "page.json": (json.dumps({"meta": {}, "results": [record]}), ["results[0]"]),
        "lines.jsonl": ("\n".join([json.dumps(record), "", json.dumps(record)]), [1, 3]),
        "pages.jsonl": ("\n".join(json.dumps({"meta": {}, "results": [record]}) for _ in range(2)),
                        ["1:results[0]", "2:results[0]"]),
    }
    for name, (text, where) in shapes.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        assert [w for w, _ in json_records(tmp_path / name)] == where, name
    (tmp_path / "bad.json").write_text('{"id": 1,\n "x": }')
    [(where, rejection)] = json_records(tmp_path / "bad.json")
    assert where == "$" and "not valid JSON" in rejection.reason and "line 2" in rejection.reason
    (tmp_path / "bad_first.jsonl").write_text('{"id": \n{"id": "https://openalex.org/W1"}\n')
    assert [w for w, _ in json_records(tmp_path / "bad_first.jsonl")] == [1, 2]


def test_parallel_decoding_gives_the_same_result(tmp_path):
    page = json.loads((FIXTURES / "openalex_works_page.json").read_text())
    author = json.loads((FIXTURES / "openalex_author.json").read_text())
    lines = []
    for i in range(60):  # works with fresh ids, a broken line, a page line, and an author
        for work in page["results"]:
            lines.append(json.dumps({**work, "id": f"https://openalex.org/W{i}{work['id'][-1]}"}))
    lines[17] = '{"id": "https://openalex.org/W999", "title": "cut'
    lines.insert(40, "")
    lines.append(json.dumps(author))
    lines.append(json.dumps({"meta": {}, "results": [{**page["results"][0], "id": "W77777"}]}))
    path = tmp_path / "works.jsonl"
    path.write_text("\n".join(lines) + "\n")
    records = parallel_records(path, 2, chunk_bytes=4096)
    assert records is not None
    assert parse_openalex(records, source=path.name) == read_openalex(path, workers=1)


def test_stopping_early_ends_the_workers(tmp_path):
    path = tmp_path / "works.jsonl"
    work = json.loads((FIXTURES / "openalex_works_page.json").read_text())["results"][0]
    path.write_text("\n".join(json.dumps({**work, "id": f"https://openalex.org/W{i}"}) for i in range(400)))
    records = parallel_records(path, 2, chunk_bytes=2048)
    assert records is not None
    first = next(records)
    assert first[0] == 1
    records.close()  # the workers' pipes are closed and the processes reaped, without waiting


ODD = [None, "", " ", 0, 7, 2.5, True, "x", [], {}, [None], 2**70, -3]
AUTHORSHIP_FIELDS = {
    "author": [None, 5, {}, {"id": None}, {"id": 7}, {"id": "https://openalex.org/a9", "orcid": " "},
               {"id": "A5", "display_name": 3}, {"id": "https://openalex.org/", "orcid": "https://orcid.org/x"}],
    "institutions": [None, [None], [{"country_code": None}], [{"country_code": 5}], [{"country_code": "de"}],
                     [{"country_code": "", "display_name": "A"}, {"country_code": "FR", "display_name": None}]],
    "countries": [None, [], [None], ["NO"], "NO", ["", "DE"]],
}
WORK_FIELDS = {
    "id": [None, 5, "W1", "https://openalex.org/w2", "https://openalex.org/A5", "", "https://openalex.org/"],
    "title": ODD, "display_name": ODD, "publication_year": [*ODD, 1850, 2021, "2019", 2**63],
    "abstract_inverted_index": [*ODD, {"a": [1], "b": [0]}, {"a": [5]}, {"a": ["x"]}, {"": [0], "b": [1]},
                                {"a": [0, 0]}, {"a": [-1], "b": [0]}, {"a": [1.0], "b": [0]}, {"a": [True]}],
    "topics": [*ODD, [{"display_name": 5}], [{"display_name": " T "}, {"display_name": "U"}]],
    "concepts": [*ODD, [{"display_name": "c", "score": "h"}, {"display_name": "d", "score": 0.9}],
                 [{"display_name": "e", "score": True}, {"display_name": "f", "score": 2**64}]],
    "results": [None, [], 5],
}


def _work_record() -> dict:
    return json.loads((FIXTURES / "openalex_works_page.json").read_text())["results"][1]


@st.composite
def work_records(draw: st.DrawFn) -> dict:
    """The fixture's work with some fields the reader uses replaced by odd values, or dropped."""
    record = _work_record()
    for name, values in WORK_FIELDS.items():
        if draw(st.integers(0, 3)) == 0:
            record[name] = draw(st.sampled_from(values))
        elif draw(st.integers(0, 9)) == 0:
            record.pop(name, None)
    for authorship in record["authorships"]:
        for name, values in AUTHORSHIP_FIELDS.items():
            if draw(st.integers(0, 5)) == 0:
                authorship[name] = draw(st.sampled_from(values))
    return record


def _same(row: WorkRow | RecordProblem | None) -> tuple | None:
    return (row.reason, row.record_id, row.field) if isinstance(row, RecordProblem) else row


@settings(max_examples=400, deadline=None)
@given(record=work_records())
def test_fast_decoding_gives_the_row_a_full_decode_gives(record):
    line = json.dumps(record).encode()
    fast = decode_work(line)
    if fast is not None:
        assert _same(fast) == _same(work_row_or_problem(json.loads(line)))


def test_fast_decoding_takes_well_formed_works_and_leaves_the_rest():
    assert type(decode_work(json.dumps(_work_record()).encode())) is WorkRow
    author = (FIXTURES / "openalex_author.json").read_bytes()
    for line in [author, b'{"meta": {}, "results": []}', b"[1, 2]", b'{"id": "https://openalex.org/W1", "title": ',
                 b"   ", b'{"id": "https://openalex.org/W1", "title": "T", "authorships": [null]}']:
        assert decode_work(line) is None, line


def test_fast_decoding_rebuilds_abstracts_from_the_index_as_written():
    """The index is kept as JSON text and decoded on its own: spacing, escapes, non-ASCII words,
    gaps and repeated positions give the abstract a full decode gives."""
    work = _work_record()
    indexes = [
        ('{"world":[1],"Hello":[0],"again":[3],"hello":[2]}', "Hello world hello again"),
        (' {\n "b" : [ 1 , 2 ] ,\t"a":[0] } ', "a b b"),
        ('{"Caf\\u00e9":[0],"\\u2603":[1],"x":[]}', "Caf\u00e9 \u2603"),
        ('{"Café":[0],"☃":[1]}', "Café ☃"),
        ('{"a\\"b":[0],"c":[1]}', 'a"b c'),
        ("{}", ""), ("{ }", ""), ("null", ""), ("[]", ""),
        ('{"b":[1],"a":[0,2]}', "a b a"), ('{"a":[5]}', "a"), ('{"a":[0,0]}', "a"),
        ('{"b":[5],"a":[1]}', "a b"), ('{"a":[0],"b":["x"]}', "a"),
    ]
    for raw, expected in indexes:
        text = json.dumps({**work, "abstract_inverted_index": None})
        line = text.replace('"abstract_inverted_index": null', '"abstract_inverted_index": ' + raw).encode()
        row = decode_work(memoryview(line))
        assert type(row) is WorkRow and row.abstract == expected, raw
        assert row == work_row_or_problem(json.loads(line)), raw
    many = {f"aaaaaaaa{i:06d}bbbbbbbb": [i] for i in range(5000)}  # longer than an abstract may be
    row = decode_work(json.dumps({**work, "abstract_inverted_index": many}).encode())
    assert type(row) is WorkRow and row.abstract == clip(" ".join(many), MAX_TEXT)


def test_lines_the_fast_decoder_skips_are_read_as_a_full_decode_reads_them(tmp_path):
    """Text in fields the fast decoder skips is still checked, as are numbers a full decode
    reads differently: invalid UTF-8, NaN, lone surrogates and huge numbers give the same result."""
    work = _work_record()
    text = json.dumps(work)
    lines = [
        text.encode(),
        text[:-1].encode() + b', "junk": "\xff\xfe"}',  # invalid UTF-8 where nothing is read
        text[:-1].encode() + b', "junk": "\xed\xa0\x80"}',  # an encoded surrogate: json.loads takes it
        text[:-1].encode() + b', "junk": NaN}',
        text[:-1].encode() + b', "junk": "\\ud800"}',
        text[:-1].encode() + b', "junk": 1e999, "more": 123456789012345678901234567890}',
        json.dumps({**work, "id": "https://openalex.org/W9", "publication_year": 2**64}).encode(),
        json.dumps({**work, "id": "https://openalex.org/W8", "abstract_inverted_index": {"a": [2**64]}}).encode(),
        b'{"title": "First", ' + text[1:].replace('"W4280000002"', '"W7"').encode(),  # a duplicate key
        "\ufeff".encode() + json.dumps({**work, "id": "https://openalex.org/W6"}).encode(),  # a BOM mid-file
        json.dumps({**work, "id": "https://openalex.org/W5", "title": "Caf\u00e9 \u2603"}, ensure_ascii=False).encode(),
        b"",
        (FIXTURES / "openalex_author.json").read_text().replace("\n", " ").encode(),
        json.dumps({"meta": {}, "results": [{**work, "id": "https://openalex.org/W4"}]}).encode(),
    ]
    path = tmp_path / "works.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    full = parse_openalex(json_records(path), source=path.name)  # no fast decoder
    assert any("not UTF-8" in r.reason for r in full.rejected) and len(full.profiles) == 3
    assert read_openalex(path, workers=1) == full
    records = parallel_records(path, 2, chunk_bytes=2048)
    assert records is not None and parse_openalex(records, source=path.name) == full


def test_text_lines_are_those_of_the_file_whatever_the_block_size(monkeypatch):
    data = b'{"a": 1}\n\n  \n{"b": "\xc3\xa9"}\n{"c": "\xff"}\n' + b"x" * 50 + b"\n" + b"tail \xc3"
    expected = [(line, line != b'{"c": "\xff"}\n' and line != b"tail \xc3") for line in io.BytesIO(data)]
    for block in (1, 2, 3, 7, 64, 1 << 22):
        monkeypatch.setattr(files, "_BLOCK", block)
        monkeypatch.setattr(files, "_TAIL", max(1, block // 2))
        for buffer in (None, bytearray(block), bytearray(block + 5)):  # read into new bytes, or one buffer
            lines = text_lines(io.BytesIO(data), buffer=buffer)
            assert [(bytes(line), text) for line, text in lines] == expected
            for limit in range(len(data) + 2):  # only the lines that start within `limit` bytes
                starts = [sum(len(line) for line, _ in expected[:i]) for i in range(len(expected))]
                got = [bytes(line) for line, _ in text_lines(io.BytesIO(data), limit, buffer)]
                assert got == [line for (line, _), start in zip(expected, starts, strict=True) if start < limit]


def test_gc_paused_leaves_what_it_made_collectable():
    class Node:
        pass

    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        node = Node()
        node.itself = node  # a reference cycle, which only the collector frees
        made = [[i] for i in range(20_000)]
        ref = weakref.ref(node)
    assert gc.isenabled() and gc.get_freeze_count() == 0
    assert gc.get_count()[0] < 1000  # what was made is not waiting for a young collection
    del node, made
    gc.collect()
    assert ref() is None


def test_schedule_covers_the_file_once_in_order_and_gives_the_caller_smaller_ranges():
    for size, helpers, chunk in [(0, 1, 10), (1, 1, 10), (95, 1, 10), (1000, 3, 64), (7, 2, 1)]:
        ranges = schedule(size, helpers, chunk)
        assert [start for start, _, _ in ranges] == [0, *(end for _, end, _ in ranges)][: len(ranges)]
        assert (ranges[-1][1] if ranges else 0) == size
        assert all(start < end for start, end, _ in ranges)
        assert {who for _, _, who in ranges} <= set(range(-1, helpers))
    ranges = schedule(5000, 1, 100)
    own = [end - start for start, end, who in ranges if who < 0]
    assert own[0] == 100 * parallel.FIRST_CHUNKS and own[-1] <= own[1]
    assert set(own[1:-1]) == {int(100 * parallel.OWN_SHARE)}
    assert [who for _, _, who in ranges[:4]] == [-1, 0, -1, 0]


def test_auto_workers_counts_idle_cpus_for_large_plain_files(tmp_path, monkeypatch):
    small = tmp_path / "small.jsonl"
    small.write_text('{"id": "W1"}\n')
    assert auto_workers(small) == 1 and auto_workers(tmp_path / "missing.jsonl") == 1
    large = tmp_path / "large.jsonl"
    with large.open("wb") as fh:
        fh.truncate(parallel.PARALLEL_BYTES)  # sparse: no disk used
    for idle, expected in [(0.0, 1), (0.9, 1), (1.6, 2), (2.0, 2), (16.0, parallel.MAX_WORKERS)]:
        monkeypatch.setattr(parallel, "idle_cpus", lambda idle=idle: idle)
        assert auto_workers(large) == expected
    assert auto_workers(large.rename(tmp_path / "large.jsonl.gz")) == 1
    monkeypatch.undo()
    assert 0.0 <= idle_cpus(0.01) <= (os.cpu_count() or 1)


def test_deeply_nested_lines_are_rejected_not_fatal(tmp_path):
    """msgspec and json stop at the interpreter's recursion limit (so where depends on the
    caller's stack), orjson at 1,024 levels: each line gets a rejection or its record, and the
    read goes on, in one process and in several."""
    work = _work_record()
    lines = [
        json.dumps(work),
        '{"id": "https://openalex.org/W3", "x": ' + "[" * 1000 + "]" * 1000 + "}",
        '{"id": "https://openalex.org/W4", "x": ' + "[" * 5000 + "]" * 5000 + "}",
        json.dumps({**work, "id": "https://openalex.org/W5"}),
    ]
    path = tmp_path / "works.jsonl"
    path.write_text("\n".join(lines) + "\n")
    one = read_openalex(path, workers=1)
    reasons = {r.line: r.reason for r in one.rejected}
    assert "no title" in reasons[2] or reasons[2] == files.TOO_DEEP
    assert reasons[3] == files.TOO_DEEP and len(one.profiles) > 1
    records = parallel_records(path, 2, chunk_bytes=256)
    assert records is not None and parse_openalex(records, source=path.name) == one
    assert list(files.json_records(_deep_document(tmp_path))) == [("$", Rejection("$", files.TOO_DEEP))]


def _deep_document(tmp_path: Path) -> Path:
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    return path


def test_typed_authorships_read_ids_orcids_and_places():
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
    expected = [
        ("A1", 0, "Ana", "0000-0002-1825-0097", ("PT", "")), ("A2", 1, "", None, None), ("A3", 6, "", None, ("SE", "")),
    ]
    assert openalex_records._typed_authorships(decoded.authorships) == expected
    assert openalex_records._authorships(authorships) == expected  # as from a full decode
    assert openalex_records._typed_authorships(None) == openalex_records._typed_authorships(msgspec.UNSET) == []


def test_large_author_lists_are_capped_and_deduplicated():
    people = [(f"A{i % 300}", i, f"N{i}", None, ("DE", "U")) for i in range(450)]  # 150 listed twice
    row = WorkRow("W1", "Big", "abstract", 2020, ["Physics"], people)
    result = parse_openalex([(1, row), (2, row), (3, row._replace(id="W2", authors=people[:40]))], source="x.jsonl")
    profiles = {p.id: p for _, p in result.profiles}
    assert len(profiles) == 300 and len(result.rejected) == 1  # the second record of W1
    assert "duplicate work record" in result.rejected[0].reason
    first = profiles["openalex-A0"].works[0]
    assert len(first.coauthors) == MAX_COAUTHORS and "openalex-A0" not in first.coauthors
    assert len(set(first.coauthors)) == MAX_COAUTHORS
    assert len(profiles["openalex-A0"].works[1].coauthors) == 39  # 40 distinct authors in W2


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.sampled_from(["Karst", "Soil", "Crop", "Fjord", "Ice", "Rain", "Sand"]), max_size=4),
                max_size=14))
def test_an_authors_top_topics_are_counted_as_counter_counts_them(lists):
    """Small counts are kept in a plain dict, larger ones in a `Counter`: both rank alike."""
    expected = [topic for topic, _ in Counter(chain.from_iterable(lists)).most_common(openalex.KEYWORDS)]
    assert openalex._most_frequent(lists) == expected
