from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.domain.errors import InvalidProfile
from matcher.domain.profiles import parse_profile, profile_to_dict, valid_orcid

BASE = {"id": "tr-0001", "name": "Ayşe Yılmaz", "country": "Turkey", "works": [{"title": "Karst aquifers"}]}


def test_valid_profile_is_normalised():
    p = parse_profile({**BASE, "country": "TUR", "keywords": "groundwater; karst", "capacity": "3"})
    assert p.country == "TR"
    assert p.keywords == ("groundwater", "karst")
    assert p.capacity == 3
    assert p.works[0].id == "tr-0001-w1"


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"country": "Atlantis"}, "country", "unknown country"),
        ({"name": ""}, "name", "required"),
        ({"works": [{"abstract": "no title"}]}, "works[0].title", "required"),
        ({"works": [{"title": "x", "year": 3000}]}, "works[0].year", "between"),
        ({"kind": "robot"}, "kind", "one of"),
        ({"id": "bad id!"}, "id", "letters"),
        ({"orcid": "0000-0002-1825-0098"}, "orcid", "check digit"),
        ({"works": [], "keywords": []}, "works", "at least one work"),
        ({"capacity": -1}, "capacity", "between"),
    ],
)
def test_invalid_fields_are_named(change, field, words):
    with pytest.raises(InvalidProfile) as err:
        parse_profile({**BASE, **change})
    assert err.value.field == field
    assert words in err.value.reason


def test_unknown_fields_are_rejected():
    with pytest.raises(InvalidProfile, match="countyr"):
        parse_profile({**BASE, "countyr": "DE"})


def test_orcid_checksum():
    assert valid_orcid("0000-0002-1825-0097")
    assert valid_orcid("0000-0002-9079-593X")
    assert not valid_orcid("0000-0002-1825-0098")
    assert not valid_orcid("0000-0002-1825-0097\n") and not valid_orcid(" 0000-0002-1825-0097")
    assert not valid_orcid("\u0660000-0002-1825-0097")  # a non-ASCII digit


def test_orcid_check_digit_is_iso_7064_mod_11_2():
    def reference(digits: str) -> str:  # ISO 7064 MOD 11-2 as ORCID documents it
        total = 0
        for ch in digits:
            total = (total + int(ch)) * 2
        result = (12 - total % 11) % 11
        return "X" if result == 10 else str(result)

    rng = random.Random(7)
    for _ in range(2000):
        digits = "".join(rng.choice("0123456789") for _ in range(15))
        check = reference(digits)
        raw = digits + check
        orcid = "-".join(raw[i : i + 4] for i in range(0, 16, 4))
        assert valid_orcid(orcid)
        wrong = next(c for c in "0123456789X" if c != check)
        assert not valid_orcid(orcid[:-1] + wrong)
    assert parse_profile({**BASE, "orcid": "https://orcid.org/0000-0002-1825-0097"}).orcid == "0000-0002-1825-0097"


def test_private_fields_are_kept_but_not_exported_by_default():
    p = parse_profile({**BASE, "gender": "female", "career_stage": "postdoc", "email": "a@b.org"})
    assert p.private == {"gender": "female", "career_stage": "postdoc", "email": "a@b.org"}
    public = profile_to_dict(p)
    assert not {"gender", "career_stage", "email"} & public.keys()
    assert profile_to_dict(p, private=True)["gender"] == "female"


_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=40).filter(
    lambda s: s.strip() == s and s
)


@settings(max_examples=60, deadline=None)
@given(
    name=_text,
    country=st.sampled_from(["DE", "FR", "TR", "GR", "KE", "US", "AZ"]),
    titles=st.lists(_text, min_size=1, max_size=5, unique=True),
    keywords=st.lists(_text.filter(lambda s: ";" not in s), max_size=4, unique=True),
    year=st.none() | st.integers(1900, 2100),
)
def test_round_trip(name, country, titles, keywords, year):
    raw = {
        "id": "x-1",
        "name": name,
        "country": country,
        "keywords": keywords,
        "works": [{"title": t, "year": year} for t in titles],
    }
    p = parse_profile(raw)
    assert parse_profile(profile_to_dict(p, private=True)) == p
