"""The C rebuild of OpenAlex abstracts (`matcher._abstracts`) against the Python one.

Wherever the C function answers, its text is the one `abstract_text` gives for the decoded
index; where it declines (None), the reader decodes the index and uses `abstract_text`.
"""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.sources import openalex_records
from matcher.sources.openalex_records import WorkRow, abstract_text, decode_work

try:
    from matcher._abstracts import abstract_from_json
except ImportError:  # pragma: no cover - the check below names the cause
    abstract_from_json = None

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "sources"


def test_the_c_rebuild_is_built():
    assert abstract_from_json is not None, (
        "matcher._abstracts is not built: `pip install -e .` needs a C compiler (setup.py); "
        "without it OpenAlex abstracts are rebuilt in Python, more slowly"
    )


def _rebuilt(raw: bytes) -> str | None:
    assert abstract_from_json is not None
    return abstract_from_json(raw)


def test_plain_indexes_are_rebuilt_in_c():
    assert _rebuilt(b'{"world":[1],"Hello":[0],"again":[3],"hello":[2]}') == "Hello world hello again"
    assert _rebuilt(b' {\n "b" : [ 1 , 2 ] ,\t"a":[0] } ') == "a b b"
    assert _rebuilt('{"Café":[0],"☃":[1],"x":[]}'.encode()) == "Café ☃"
    assert _rebuilt(b"{}") == "" and _rebuilt(b"{ }") == ""
    assert _rebuilt(memoryview(b'{"a":[0]}')) == "a"
    index = {f"aaaaaaaa{i:06d}bbbbbbbb": [i] for i in range(5000)}  # words alike at both ends
    assert _rebuilt(json.dumps(index).encode()) == " ".join(index)


def test_anything_else_is_left_to_python():
    declined = [
        b"null", b"[]", b'"a"', b"{", b'{"a":[0]', b'{"a":[0]}x', b'{"a":0}', b'{"a":[0,]}', b'{"a":[-1],"b":[0]}',
        b'{"a":[1.0],"b":[0]}', b'{"a":[1e0],"b":[0]}', b'{"a":[01],"b":[0]}', b'{"a":["0"]}', b'{"a":[true]}',
        b'{"a":[0,0]}', b'{"a":[2]}', b'{"a":[0],"b":[2]}', b'{"":[0]}', b'{"a\\"b":[0]}', b'{"\\u00e9":[0]}',
        b'{"a":[0],"a":[1]}', b'{"a":[99999999999999999999]}', b'{"\xff":[0]}', b'{"a\nb":[0]}', b"",
        b'{"\xff":[],"a":[0]}', b'{"\x81":[]}',  # invalid UTF-8 in a word with no position

    ]
    for raw in declined:
        assert _rebuilt(raw) is None, raw


words = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)


@st.composite
def index_texts(draw: st.DrawFn) -> bytes:
    """The JSON text of an inverted index: mostly a permutation of positions over distinct
    words, sometimes with gaps, repeats, repeated keys, odd values, escapes and whitespace."""
    keys = draw(st.lists(words, max_size=30))
    n = draw(st.integers(0, 40))
    positions = draw(st.permutations(range(n)))
    if draw(st.booleans()):
        positions = [*positions, *draw(st.lists(st.integers(-2, n + 2), max_size=3))]
    if draw(st.integers(0, 5)) == 0 and keys:
        keys.append(draw(st.sampled_from(keys)))  # a key twice: the decoded dict keeps the last
    members: list[tuple[str, list]] = [(k, []) for k in keys]
    for position in positions:
        if members:
            members[draw(st.integers(0, len(members) - 1))][1].append(position)
    space = draw(st.sampled_from(["", " ", "\n  "]))
    ascii_only = draw(st.booleans())
    parts = [
        json.dumps(key, ensure_ascii=ascii_only) + space + ":" + space + json.dumps(values)
        for key, values in members
    ]
    return ("{" + space + ("," + space).join(parts) + space + "}").encode()


@settings(max_examples=600, deadline=None)
@given(raw=index_texts())
def test_c_and_python_give_the_same_abstract(raw):
    text = _rebuilt(raw)
    if text is not None:
        assert text == abstract_text(json.loads(raw))


def test_without_the_c_rebuild_the_rows_are_the_same(monkeypatch):
    """An install without a C compiler rebuilds every abstract in Python: same rows."""
    page = json.loads((FIXTURES / "openalex_works_page.json").read_text())
    indexes = [{"b": [1], "a": [0, 2]}, {"Café": [0], "x": []}, {"a\"b": [0]}, {"a": [0, 0]}, {}, None, {"a": [5]}]
    lines = [
        json.dumps({**work, "abstract_inverted_index": index}, ensure_ascii=ascii_only).encode()
        for work in page["results"] for index in indexes for ascii_only in (True, False)
    ]
    with_c = [decode_work(line) for line in lines]
    assert all(type(row) is WorkRow for row in with_c)
    monkeypatch.setattr(openalex_records, "abstract_from_json", lambda raw: None)
    assert [decode_work(line) for line in lines] == with_c
    assert [row.abstract for row in with_c[:2]] == ["a b a"] * 2
