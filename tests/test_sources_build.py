"""The fast profile builder agrees with `parse_profile`; JSON shapes; parallel decoding is invisible."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.errors import InvalidProfile
from matcher.profiles import MAX_TEXT, parse_profile
from matcher.sources.build import clip, make_profile, make_work
from matcher.sources.files import json_records
from matcher.sources.openalex import parse_openalex, read_openalex
from matcher.sources.parallel import parallel_records

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
    pid=st.sampled_from(["openalex-A1", "cordis-org-7", "orcid-0000", "openalex-A2", "", "-bad", "x" * 129]),
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
