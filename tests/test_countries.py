"""Tests for matcher.domain.countries: normalisation, named groups and list expansion."""

from __future__ import annotations

import pycountry
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pycountry.db import Country

from matcher.domain.countries import (
    GROUP_ALIASES,
    GROUPS,
    CountryGroup,
    country_name,
    expand_countries,
    get_group,
    normalise_country,
)
from matcher.domain.errors import UnknownCountry

EU_WIDENING = frozenset(
    {"BG", "HR", "CY", "CZ", "EE", "GR", "HU", "LV", "LT", "MT", "PL", "PT", "RO", "SK", "SI"}
)
ALL_COUNTRIES = list(pycountry.countries)


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("DE", "DE"), ("de", "DE"), ("  fr \t", "FR"), ("DEU", "DE"), ("deu", "DE"),
        ("Germany", "DE"), ("GERMANY", "DE"), ("  United   Kingdom ", "GB"),
        ("Federal Republic of Germany", "DE"),
        ("EL", "GR"), ("el", "GR"), ("UK", "GB"), ("uk", "GB"), ("GR", "GR"), ("GB", "GB"),
        ("XK", "XK"), ("xk", "XK"), ("Kosovo", "XK"),
        ("Turkey", "TR"), ("Türkiye", "TR"), ("TUR", "TR"), ("Great Britain", "GB"),
        ("Czech Republic", "CZ"), ("Czechia", "CZ"), ("Korea, Republic of", "KR"),
        ("South Korea", "KR"), ("Russia", "RU"), ("Iran", "IR"), ("Vietnam", "VN"),
        ("Viet Nam", "VN"), ("Moldova", "MD"), ("Tanzania", "TZ"), ("Bolivia", "BO"),
        ("Venezuela", "VE"), ("Syria", "SY"), ("Laos", "LA"), ("Ivory Coast", "CI"),
        ("Côte d'Ivoire", "CI"), ("Cote d\u2019Ivoire", "CI"), ("The Netherlands", "NL"),
        ("Netherlands", "NL"), ("Reunion", "RE"), ("AU", "AU"), ("Australia", "AU"),
    ],
)
def test_normalise_accepts_codes_names_and_variants(value: str, code: str) -> None:
    assert normalise_country(value) == code


@pytest.mark.parametrize(
    "value", ["", "   ", "EU", "ZZ", "Narnia", "276", "Germ", "eu", "widening", "D E"]
)
def test_normalise_rejects_unknown_with_the_token_in_the_message(value: str) -> None:
    with pytest.raises(UnknownCountry) as info:
        normalise_country(value)
    assert info.value.value == value
    assert f"'{value}'" in str(info.value)


def test_normalise_rejects_non_strings() -> None:
    with pytest.raises(UnknownCountry):
        normalise_country(None)  # type: ignore[arg-type]


@given(country=st.sampled_from(ALL_COUNTRIES))
def test_every_pycountry_country_normalises_from_alpha3_and_name(country: Country) -> None:
    assert normalise_country(country.alpha_3) == normalise_country(country.name) == country.alpha_2
    assert normalise_country(country.alpha_2) == country.alpha_2


@given(
    country=st.sampled_from(ALL_COUNTRIES),
    field=st.sampled_from(["alpha_2", "alpha_3", "name", "official_name", "common_name"]),
    upper=st.booleans(),
    pad=st.sampled_from(["", " ", "\t", "  \n"]),
)
def test_case_and_surrounding_whitespace_do_not_matter(
    country: Country, field: str, upper: bool, pad: str
) -> None:
    text = getattr(country, field, None) or country.name
    text = text.upper() if upper else text.lower()
    assert normalise_country(pad + text + pad) == country.alpha_2


def test_country_name_for_display() -> None:
    assert country_name("DE") == "Germany"
    assert country_name("KR") == "South Korea"
    assert country_name("el") == "Greece"
    assert country_name("XK") == "Kosovo"
    with pytest.raises(UnknownCountry):
        country_name("ZZ")


@pytest.mark.parametrize("group", list(GROUPS.values()), ids=list(GROUPS))
def test_group_is_documented_and_members_normalise_to_themselves(group: CountryGroup) -> None:
    assert group.members and group.title and group.source and group.as_of
    for code in group.members:
        assert normalise_country(code) == code


def test_group_sizes() -> None:
    assert len(GROUPS["eu"].members) == 27
    assert len(GROUPS["african-union"].members) == 55
    assert GROUPS["ots"].members == frozenset({"AZ", "KZ", "KG", "TR", "UZ"})
    assert GROUPS["eea"].members == GROUPS["eu"].members | {"IS", "LI", "NO"}
    assert GROUPS["efta"].members == frozenset({"CH", "IS", "LI", "NO"})


def test_widening_lies_between_eu_widening_and_eu_or_associated() -> None:
    widening = GROUPS["widening"].members
    assert EU_WIDENING <= widening
    assert EU_WIDENING <= GROUPS["eu"].members
    assert widening <= GROUPS["eu"].members | GROUPS["he-associated"].members
    assert not GROUPS["eu"].members & GROUPS["he-associated"].members
    assert "GR" in widening and "EL" not in widening


def test_groups_are_read_only() -> None:
    with pytest.raises(TypeError):
        GROUPS["new"] = GROUPS["eu"]  # type: ignore[index]


def test_no_group_name_or_alias_is_a_country() -> None:
    for name in [*GROUPS, *GROUP_ALIASES]:
        with pytest.raises(UnknownCountry):
            normalise_country(name)


@pytest.mark.parametrize(
    ("alias", "name"),
    [("turkic", "ots"), ("au-members", "african-union"), ("african_union", "african-union"),
     ("EU27", "eu"), ("associated", "he-associated"), ("Widening", "widening")],
)
def test_group_aliases(alias: str, name: str) -> None:
    assert get_group(alias) is GROUPS[name]
    assert expand_countries([alias]) == GROUPS[name].members


def test_expand_mixes_countries_and_groups() -> None:
    expected = {"DE", "FR", "GB", "GR"} | GROUPS["ots"].members
    assert expand_countries(["de", "France", "UK", "EL", "turkic"]) == expected
    assert expand_countries(["DE,FR, widening"]) == {"DE", "FR"} | GROUPS["widening"].members
    assert expand_countries("DE, group:eu") == GROUPS["eu"].members
    assert expand_countries(["GROUP:OTS", " , "]) == GROUPS["ots"].members
    assert expand_countries([]) == frozenset()


def test_two_letter_country_codes_win_over_groups() -> None:
    assert expand_countries(["AU"]) == {"AU"}
    assert "AU" not in GROUPS["african-union"].members
    assert expand_countries(["EU"]) == GROUPS["eu"].members
    assert expand_countries(["group:african-union"]) == GROUPS["african-union"].members


@pytest.mark.parametrize(
    ("values", "bad"),
    [(["DE", "Narnia"], "Narnia"), (["DE,ZZ"], "ZZ"), (["group:nato"], "group:nato"),
     (["group:DE"], "group:DE")],
)
def test_expand_names_the_bad_token(values: list[str], bad: str) -> None:
    with pytest.raises(UnknownCountry) as info:
        expand_countries(values)
    assert info.value.value == bad


@given(names=st.lists(st.sampled_from([*GROUPS, *GROUP_ALIASES]), max_size=4),
       codes=st.lists(st.sampled_from([c.alpha_2 for c in ALL_COUNTRIES]), max_size=4))
def test_expand_is_the_union_of_its_parts(names: list[str], codes: list[str]) -> None:
    result = expand_countries([*names, *codes])
    assert set(codes) <= result
    for name in names:
        assert get_group(name).members <= result
    assert expand_countries(sorted(result)) == result
