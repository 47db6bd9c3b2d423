"""Country codes and named country groups.

Every country in the core is an upper-case ISO 3166-1 alpha-2 code. `normalise_country`
turns the forms people type (alpha-2, alpha-3, English names, the EU's own codes EL and UK,
Kosovo's user-assigned XK, a few common variants) into that code, exactly and without fuzzy
matching. Named groups (`eu`, `widening`, `he-associated`, ...) are defined once here, each
with the source and the date its membership reflects; `expand_countries` accepts countries
and groups mixed, as any country list in the product does.

Group lists change (accessions, new association agreements): update them here, and their
`source` and `as_of`, in one place.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType

import pycountry

from matcher.domain.errors import UnknownCountry

__all__ = [
    "GROUPS",
    "GROUP_ALIASES",
    "CountryGroup",
    "country_name",
    "expand_countries",
    "get_group",
    "normalise_country",
]

# Codes outside ISO 3166-1 that the product accepts, with their display names.
_EXTRA_NAMES: Mapping[str, str] = MappingProxyType({"XK": "Kosovo"})

# Exact variants (keys as produced by `_clean`) that pycountry does not resolve or that we
# want to keep stable across pycountry releases. No fuzzy matching anywhere.
_ALIASES: Mapping[str, str] = MappingProxyType({
    "el": "GR", "uk": "GB", "xk": "XK", "xkx": "XK", "kosovo": "XK",
    "turkey": "TR", "turkiye": "TR", "türkiye": "TR",
    "great britain": "GB", "britain": "GB",
    "czech republic": "CZ", "south korea": "KR", "republic of korea": "KR",
    "korea, republic of": "KR", "north korea": "KP",
    "russia": "RU", "iran": "IR", "vietnam": "VN", "moldova": "MD", "tanzania": "TZ",
    "bolivia": "BO", "venezuela": "VE", "syria": "SY", "laos": "LA",
    "ivory coast": "CI", "cote d'ivoire": "CI", "côte d'ivoire": "CI",
    "the netherlands": "NL", "cape verde": "CV", "swaziland": "SZ", "east timor": "TL",
    "burma": "MM", "palestine": "PS", "vatican": "VA",
    "dr congo": "CD", "democratic republic of the congo": "CD",
})


@dataclass(frozen=True)
class CountryGroup:
    """A named set of countries, with where the list comes from and when it was true."""

    name: str
    title: str
    members: frozenset[str]
    source: str
    as_of: str


def _codes(text: str) -> frozenset[str]:
    return frozenset(text.split())


_EU_WIDENING = _codes("BG HR CY CZ EE GR HU LV LT MT PL PT RO SK SI")
_EU = _EU_WIDENING | _codes("AT BE DK FI FR DE IE IT LU NL ES SE")

_GROUP_LIST = (
    CountryGroup(
        "eu", "EU member states", _EU,
        "Treaty on European Union, Art. 52(1) (consolidated version); 27 member states since "
        "the United Kingdom left on 2020-02-01", "2025-12-31",
    ),
    CountryGroup(
        "widening", "Horizon Europe widening countries",
        _EU_WIDENING | _codes("AL AM BA FO GE XK MD ME MK RS TN TR UA"),
        "Horizon Europe Work Programme 2023-2025, General Annexes, Annex B (widening member "
        "states and associated countries with equivalent R&I characteristics). Outermost "
        "regions are not countries and are not listed; Morocco (listed subject to association) "
        "is left out because it is not associated; Egypt (associated 2025-10-22) is not added "
        "until a work programme lists it as widening", "2025-12-31",
    ),
    CountryGroup(
        "he-associated", "Countries associated to Horizon Europe",
        _codes("AL AM BA CA CH EG FO GE GB IL IS KR MD ME MK NO NZ RS TN TR UA XK"),
        "European Commission, 'List of participating countries in Horizon Europe' (Funding & "
        "Tenders Portal): association agreements signed and applied, CH retroactively from "
        "2025-01-01, KR signed 2025-07-17, EG signed 2025-10-22. CA, KR, NZ: Pillar II only; "
        "GB: not the EIC Fund. Not included: JP (transitional arrangement from 2026 calls, "
        "agreement not yet signed), MA, LI (not associating)", "2025-12-31",
    ),
    CountryGroup(
        "ots", "Organization of Turkic States member states", _codes("AZ KZ KG TR UZ"),
        "Organization of Turkic States, member states (Nakhchivan Agreement 2009, renamed "
        "2021); observers (Hungary, Turkmenistan, Turkish Cypriot administration) excluded",
        "2025-12-31",
    ),
    CountryGroup(
        "african-union", "African Union member states",
        _codes(
            "DZ AO BJ BW BF BI CM CV CF TD KM CG CD CI DJ EG GQ ER SZ ET GA GM GH GN GW KE LS "
            "LR LY MG MW ML MR MU MA MZ NA NE NG RW EH ST SN SC SL SO ZA SS SD TZ TG TN UG ZM ZW"
        ),
        "African Union, member states (au.int): 55 states including the Sahrawi Arab "
        "Democratic Republic (ISO code EH); members suspended from AU activities are "
        "still listed", "2025-12-31",
    ),
    CountryGroup(
        "low-income", "Low- and lower-middle-income economies",
        _codes(
            "AF BF BI CF TD CD ER ET GM GW KP LR MG MW ML MZ NE RW SL SO SS SD SY TG UG YE "
            "AO BD BJ BT BO KH CM KM CG CI DJ EG SZ GH GN HT HN IN JO KE KI KG LA LB LS MR FM MN "
            "MA MM NA NP NI NG PK PG PH ST SN SB LK TJ TZ TL TN UZ VU VN ZM ZW PS"
        ),
        "World Bank country classifications by income level, FY2026 (July 2025): the low-income "
        "and lower-middle-income groups (GNI per capita, Atlas method, up to USD 4,495 in 2024); "
        "West Bank and Gaza listed as PS. UNESCO's inclusion goal in science cooperation reads "
        "these groups as under-connected", "2025-12-31",
    ),
    CountryGroup(
        "eea", "European Economic Area", _EU | _codes("IS LI NO"),
        "Agreement on the European Economic Area: EU member states plus Iceland, "
        "Liechtenstein and Norway", "2025-12-31",
    ),
    CountryGroup(
        "efta", "European Free Trade Association member states", _codes("CH IS LI NO"),
        "EFTA Convention (Vaduz, consolidated): Iceland, Liechtenstein, Norway, Switzerland",
        "2025-12-31",
    ),
)

GROUPS: Mapping[str, CountryGroup] = MappingProxyType({g.name: g for g in _GROUP_LIST})

GROUP_ALIASES: Mapping[str, str] = MappingProxyType({
    "lmic": "low-income",
    "low-and-lower-middle-income": "low-income",
    "turkic": "ots",
    "au-members": "african-union",
    "eu27": "eu",
    "associated": "he-associated",
})


def _clean(value: str) -> str:
    """Trim, collapse inner whitespace, unify apostrophes, casefold."""
    text = " ".join(value.split())
    return text.replace("\u2019", "'").replace("\u2018", "'").replace("`", "'").casefold()


def _fold(text: str) -> str:
    """Strip accents: 'réunion' -> 'reunion'."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@lru_cache(maxsize=1)
def _folded_index() -> Mapping[str, str]:
    """Accent-free codes and names of every pycountry country -> alpha-2 (built on first use)."""
    index: dict[str, str] = {}
    for country in pycountry.countries:
        for field in ("alpha_2", "alpha_3", "name", "official_name", "common_name"):
            text = getattr(country, field, None)
            if text:
                index.setdefault(_fold(_clean(text)), country.alpha_2)
    return MappingProxyType(index)


@lru_cache(maxsize=4096)
def _normalise(value: str) -> str:
    key = _clean(value)
    if not key or key.isdigit():  # ISO numeric codes are not accepted
        raise UnknownCountry(value)
    if key in _ALIASES:
        return _ALIASES[key]
    try:
        return str(pycountry.countries.lookup(key).alpha_2)
    except LookupError:
        pass
    code = _folded_index().get(_fold(key))
    if code is None:
        raise UnknownCountry(value)
    return code


def normalise_country(value: str) -> str:
    """The upper-case ISO 3166-1 alpha-2 code for a code or English name of a country.

    Accepts alpha-2, alpha-3, short/official/common names, EL and UK (the EU's codes for
    Greece and the United Kingdom) and Kosovo (XK); case and surrounding whitespace are
    ignored. Raises `UnknownCountry` for anything else, including empty strings.
    """
    if not isinstance(value, str):
        raise UnknownCountry(repr(value))
    return _normalise(value)


def _group_key(name: str) -> str:
    return "-".join(name.strip().casefold().replace("_", " ").split())


def _find_group(name: str) -> CountryGroup | None:
    key = _group_key(name)
    return GROUPS.get(GROUP_ALIASES.get(key, key))


def get_group(name: str) -> CountryGroup:
    """The group called `name` (case-insensitive, aliases and '_' for '-' accepted)."""
    group = _find_group(name)
    if group is None:
        raise UnknownCountry(name)
    return group


def _tokens(values: Iterable[str]) -> Iterator[str]:
    for value in values:
        if not isinstance(value, str):
            raise UnknownCountry(repr(value))
        for part in value.split(","):
            if part.strip():
                yield part.strip()


def _expand_token(token: str) -> frozenset[str]:
    if token.casefold().startswith("group:"):
        group = _find_group(token[len("group:"):])
    else:
        try:
            return frozenset({normalise_country(token)})
        except UnknownCountry:
            group = _find_group(token)
    if group is None:
        raise UnknownCountry(token)
    return group.members


def expand_countries(values: Iterable[str]) -> frozenset[str]:
    """The alpha-2 codes named by a mix of countries and groups.

    Each element is a country (any form `normalise_country` accepts), a group name or alias,
    or `group:NAME`; an element may hold several comma-separated tokens ("DE,FR, widening"),
    and blank tokens are skipped. A token that is a country is a country: "AU" is Australia,
    never the African Union ("EU" is not a country code, so it is the group).
    Raises `UnknownCountry` naming the first token that is neither.
    """
    if isinstance(values, str):
        values = [values]
    codes: set[str] = set()
    for token in _tokens(values):
        codes |= _expand_token(token)
    return frozenset(codes)


def country_name(code: str) -> str:
    """A display name for a country given in any accepted form ('KR' -> 'South Korea')."""
    alpha2 = normalise_country(code)
    if alpha2 in _EXTRA_NAMES:
        return _EXTRA_NAMES[alpha2]
    country = pycountry.countries.get(alpha_2=alpha2)
    return str(getattr(country, "common_name", None) or getattr(country, "name", alpha2))
