"""Source readers: OpenAlex, ORCID, registration forms, merging, format detection, broken input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from matcher.domain.errors import MatcherError
from matcher.domain.profiles import Profile, parse_profile, profile_to_dict
from matcher.ingest import detect_source, merge_profiles, read_source, read_sources
from matcher.ingest.openalex import abstract_text, read_openalex
from matcher.ingest.orcid import read_orcid
from matcher.ingest.readers import ReadResult
from matcher.ingest.spreadsheet import read_spreadsheet

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "sources"
EXAMPLES = ROOT / "data" / "examples"
GOOD_ORCID = "0000-0002-1825-0097"


def by_id(result: ReadResult) -> dict[str, Profile]:
    return {p.id: p for _, p in result.profiles}


def assert_round_trips(result: ReadResult) -> None:
    """Every profile a source builds is exactly what the interchange format would accept."""
    for _, profile in result.profiles:
        assert parse_profile(profile_to_dict(profile, private=True)) == profile


def test_openalex_author_record_gives_short_ids_country_and_keywords():
    result = read_openalex(FIXTURES / "openalex_author.json")
    assert result.rejected == []
    [(where, author)] = result.profiles
    assert where == "$"
    assert (author.id, author.openalex, author.orcid) == ("openalex-A5023888391", "A5023888391", GOOD_ORCID)
    assert (author.country, author.institution) == ("GR", "Aristotle University of Thessaloniki")
    assert author.keywords[0] == "Groundwater and Isotope Geochemistry"  # topics ranked by count
    assert_round_trips(result)


def test_openalex_works_page_attaches_works_and_coauthors():
    result = read_openalex(FIXTURES / "openalex_works_page.json")
    profiles = by_id(result)
    assert set(profiles) == {"openalex-A5023888391", "openalex-A5000000002", "openalex-A5000000003"}
    eleni = profiles["openalex-A5023888391"]
    first = eleni.works[0]
    assert first.id == "openalex-W4280000001"
    assert first.abstract == "Dye tracer tests in karst aquifers observed in Crete."
    assert first.year == 2021
    assert first.coauthors == ("openalex-A5000000002",)
    assert eleni.country == "GR"  # from the most recent authorship, 2021 (the 2019 one says GB)
    nurlan = profiles["openalex-A5000000003"]
    assert nurlan.country == "KZ"  # an authorship without institutions: its `countries`
    assert nurlan.works[1].year is None  # publication_year 1875 is outside the format's range
    assert set(nurlan.works[0].coauthors) == {"openalex-A5000000002", "openalex-A5023888391"}
    assert dict(result.profiles)["results[1].authorships[1]"] is nurlan
    assert_round_trips(result)


def test_author_record_after_its_works_in_jsonl(tmp_path):
    page = json.loads((FIXTURES / "openalex_works_page.json").read_text())
    author = json.loads((FIXTURES / "openalex_author.json").read_text())
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [*page["results"], author]) + "\n")
    result = read_openalex(path)
    eleni = by_id(result)["openalex-A5023888391"]
    assert dict(result.profiles)[4] is eleni  # located at the author record, line 4
    assert eleni.institution == "Aristotle University of Thessaloniki"
    assert [w.id for w in eleni.works] == ["openalex-W4280000001", "openalex-W4280000002"]
    assert eleni.keywords[0] == "Groundwater and Isotope Geochemistry"


@given(st.lists(st.text(alphabet="abcdefgh.,", min_size=1, max_size=6), min_size=1, max_size=60))
def test_abstract_is_rebuilt_from_any_inverted_index(words):
    index: dict[str, list[int]] = {}
    for position, word in enumerate(words):
        index.setdefault(word, []).append(position)
    assert abstract_text(index) == " ".join(words)


def test_abstract_with_gaps_or_junk_positions_degrades_gracefully():
    assert abstract_text({"b": [5], "a": [1]}) == "a b"
    assert abstract_text({"a": [0], "b": ["x"]}) == "a"
    assert abstract_text(None) == ""


def test_orcid_record_skips_private_items_and_uses_current_public_employment():
    result = read_orcid(FIXTURES / "orcid_record.json")
    assert result.rejected == []
    [(_, person)] = result.profiles
    assert (person.id, person.orcid, person.name) == (f"orcid-{GOOD_ORCID}", GOOD_ORCID, "Eleni Papadopoulou")
    # the newer current employment in CH is 'limited': ignored; the ended Oxford one too
    assert (person.country, person.institution) == ("GR", "Aristotle University of Thessaloniki")
    assert person.keywords == ("hydrogeology", "karst")
    titles = [w.title for w in person.works]
    assert titles == ["Tracer tests in karst aquifers", "Karst hydrogeology of Crete"]
    assert person.works[0].id == "doi:10.5555/karst.2021.1" and person.works[0].year == 2021
    assert "Unpublished draft, do not show" not in titles
    assert_round_trips(result)


def _orcid_record(orcid: str, *, name_visibility: str = "public") -> dict:
    record = json.loads((FIXTURES / "orcid_record.json").read_text())
    record["orcid-identifier"]["path"] = orcid
    record["person"]["name"]["visibility"] = name_visibility
    return record


def test_orcid_list_and_jsonl_give_the_same_profiles(tmp_path):
    records = [_orcid_record(GOOD_ORCID), _orcid_record("0000-0002-9079-593X")]
    (tmp_path / "list.json").write_text(json.dumps(records, indent=2))
    (tmp_path / "lines.jsonl").write_text("\n".join(json.dumps(r) for r in records))
    as_list, as_lines = read_orcid(tmp_path / "list.json"), read_orcid(tmp_path / "lines.jsonl")
    assert [w for w, _ in as_list.profiles] == ["[0]", "[1]"]
    assert [w for w, _ in as_lines.profiles] == [1, 2]
    assert [p for _, p in as_list.profiles] == [p for _, p in as_lines.profiles]


def test_registration_csv_example_with_mapping():
    result = read_source(EXAMPLES / "registration.csv", mapping=EXAMPLES / "registration-map.yaml")
    assert result.rejected == []
    profiles = by_id(result)
    ayse = profiles["reg-2024-002"]
    assert (ayse.name, ayse.country, ayse.capacity) == ("Ayşe Yılmaz", "TR", 2)
    assert ayse.keywords == ("drought indices", "rain-fed wheat", "crop modelling")
    assert profiles["reg-2024-003"].keywords == ("snow hydrology", "glacier melt")  # ',' or ';'
    eleni = profiles["reg-2024-001"]
    assert [w.title for w in eleni.works] == ["Karst aquifers under drought", "Tracer tests in karst aquifers"]
    assert eleni.works[0].year == 2023 and eleni.private["email"] == "eleni@example.org"
    assert [line for line, _ in result.profiles] == [2, 3, 4, 5]


def test_registration_xlsx_matches_the_csv(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    import csv

    rows = list(csv.reader((EXAMPLES / "registration.csv").read_text(encoding="utf-8").splitlines()))
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Registrations"
    for row in rows:
        sheet.append([int(c) if c.isdigit() and len(c) < 6 else c for c in row])  # numbers as numbers
    path = tmp_path / "registration.xlsx"
    book.save(path)
    mapping = EXAMPLES / "registration-map.yaml"
    from_xlsx = read_source(path, mapping=mapping)
    from_csv = read_source(EXAMPLES / "registration.csv", mapping=mapping)
    assert from_xlsx.rejected == []
    assert from_xlsx.profiles == from_csv.profiles


def test_mapping_errors_name_the_problem(tmp_path):
    form = EXAMPLES / "registration.csv"
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: Registration ID\nname: Full name\n")
    with pytest.raises(MatcherError, match="no column.*'Full name'.*'First name'"):
        read_spreadsheet(form, bad)
    bad.write_text("id: Registration ID\nnickname: First name\n")
    with pytest.raises(MatcherError, match="unknown field.*nickname"):
        read_spreadsheet(form, bad)
    bad.write_text("name: First name\n")
    with pytest.raises(MatcherError, match="'id' is required"):
        read_spreadsheet(form, bad)


def test_broken_openalex_records_are_reported_and_valid_ones_kept(tmp_path):
    def work(n: int, title: str | None, *authors: tuple[str, str]) -> str:
        authorships = [
            {"author": {"id": f"https://openalex.org/{a}", "display_name": f"Person {a}"},
             "institutions": [{"display_name": f"Uni {c}", "country_code": c}]}
            for a, c in authors
        ]
        return json.dumps({"id": f"https://openalex.org/W{n}", "title": title, "publication_year": 2020,
                           "authorships": authorships})

    def author(a: str, country: str, orcid: str | None = None) -> str:
        return json.dumps({"id": f"https://openalex.org/{a}", "display_name": f"Person {a}",
                           "orcid": f"https://orcid.org/{orcid}" if orcid else None,
                           "last_known_institutions": [{"display_name": "X", "country_code": country}],
                           "topics": [{"display_name": "Hydrology", "count": 3}]})

    lines = [
        work(1, "Valid work", ("A1", "DE"), ("A2", "FR")),
        '{"id": "https://openalex.org/W2", "title": "Cut off',
        work(3, None, ("A1", "DE")),
        author("A9", "ZZ"),
        author("A8", "PT", "0000-0002-1825-0098"),
        author("A1", "DE", GOOD_ORCID),
    ]
    path = tmp_path / "works.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = read_source(path)
    assert set(by_id(result)) == {"openalex-A1", "openalex-A2"}
    got = {r.line: (r.field, r.reason) for r in result.rejected}
    assert set(got) == {2, 3, 4, 5}
    assert "not valid JSON" in got[2][1]
    assert got[3] == ("title", "work W3 has no title; it is not attached to its authors")
    assert got[4] == ("country", "unknown country 'ZZ'")
    assert got[5][0] == "orcid" and "check digit" in got[5][1]
    assert all(str(r).startswith(f"works.jsonl:{r.line}") for r in result.rejected)
    assert by_id(result)["openalex-A1"].orcid == GOOD_ORCID


def test_broken_orcid_and_form_records_are_reported_precisely(tmp_path):
    records = [_orcid_record(GOOD_ORCID), _orcid_record("0000-0002-1825-0098"),
               _orcid_record("0000-0002-9079-593X", name_visibility="limited")]
    (tmp_path / "people.jsonl").write_text("\n".join(json.dumps(r) for r in records))
    result = read_source(tmp_path / "people.jsonl")
    assert [p.id for _, p in result.profiles] == [f"orcid-{GOOD_ORCID}"]
    got = {r.line: r for r in result.rejected}
    assert "check digit" in got[2].reason and got[2].field == "orcid"
    assert got[3].reason == "the person section is not public (name: limited)"

    form = tmp_path / "form.csv"
    form.write_text(
        "Registration ID;First name;Last name;Country of residence;Organisation;Research interests;ORCID iD;"
        "Partners wanted;Project title;Project summary;Project start year;Earlier project;E-mail\n"
        "1;Ana;Silva;Portugal;U Lisboa;soil;;1;Soil carbon;;2020;;\n"
        "2;Bo;Berg;Narnia;U Narnia;soil;;1;Soil;;2020;;\n"
        "3;Cy;Cole;France;U Paris;;;1;;A summary without a title;;;\n"
        "4;Di;Dahl;Norway;U Oslo;soil;0000-0002-1825-0098;1;Fjords;;2021;;\n",
        encoding="utf-8-sig",
    )
    result = read_source(form, mapping=EXAMPLES / "registration-map.yaml")
    assert [p.id for _, p in result.profiles] == ["reg-1"]
    got = {r.line: (r.record_id, r.field, r.reason) for r in result.rejected}
    assert got[3] == ("reg-2", "country", "unknown country 'Narnia'")
    assert got[4] == ("reg-3", "works[0].title", "is required")
    assert got[5][:2] == ("reg-4", "orcid") and "check digit" in got[5][2]


def test_merge_joins_orcid_and_openalex_records_and_rewrites_coauthors():
    result = read_sources([FIXTURES / "orcid_record.json", FIXTURES / "openalex_author.json",
                           FIXTURES / "openalex_works_page.json"])
    profiles = by_id(result)
    assert set(profiles) == {f"orcid-{GOOD_ORCID}", "openalex-A5000000002", "openalex-A5000000003"}
    eleni = profiles[f"orcid-{GOOD_ORCID}"]
    assert (eleni.openalex, eleni.country, eleni.name) == ("A5023888391", "GR", "Eleni Papadopoulou")
    # the ORCID and OpenAlex copies of "Tracer tests..." are one work, with the co-author kept
    titles = [w.title for w in eleni.works]
    assert titles.count("Tracer tests in karst aquifers") == 1 and len(titles) == 3
    assert eleni.works[0].coauthors == ("openalex-A5000000002",)
    assert eleni.keywords[:2] == ("hydrogeology", "karst") and "Crop Yield and Drought Stress" in eleni.keywords
    assert f"orcid-{GOOD_ORCID}" in profiles["openalex-A5000000002"].works[0].coauthors
    assert result.notes[0] == (
        f"merged openalex-A5023888391 into orcid-{GOOD_ORCID}: same ORCID {GOOD_ORCID}"
    )
    assert_round_trips(result)


def test_merge_never_joins_two_different_orcids(tmp_path):
    other = json.loads((FIXTURES / "openalex_author.json").read_text())
    other["orcid"] = "https://orcid.org/0000-0002-9079-593X"
    (tmp_path / "other.json").write_text(json.dumps(other))
    result = read_sources([FIXTURES / "orcid_record.json", tmp_path / "other.json"])
    assert len(result.profiles) == 2
    assert result.notes == []


def test_detection_by_content_and_name(tmp_path):
    assert detect_source(FIXTURES / "openalex_author.json") == "openalex"
    assert detect_source(FIXTURES / "openalex_works_page.json") == "openalex"
    assert detect_source(FIXTURES / "orcid_record.json") == "orcid"
    assert detect_source(FIXTURES / "cordis") == "cordis"
    assert detect_source(FIXTURES / "cordis" / "organization.csv") == "cordis"
    assert detect_source(EXAMPLES / "registration.csv") == "csv"
    assert detect_source(ROOT / "data" / "demo" / "profiles.jsonl") == "jsonl"
    renamed = tmp_path / "export.jsonl"  # OpenAlex detected by content, not by name
    shutil.copy(FIXTURES / "openalex_author.json", renamed)
    assert detect_source(renamed) == "openalex"
    assert read_source(ROOT / "data" / "demo" / "profiles.jsonl").rejected == []
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(MatcherError, match="cannot tell the format"):
        read_source(tmp_path / "notes.txt")
    with pytest.raises(MatcherError, match="needs a mapping"):
        read_source(tmp_path / "form.xlsx", fmt="xlsx")
    with pytest.raises(MatcherError, match="unknown format 'bibtex'"):
        read_source(renamed, fmt="bibtex")
    with pytest.raises(MatcherError, match="CORDIS"):
        read_source(tmp_path)


def test_records_of_an_unexpected_layout_are_rejected_not_fatal(tmp_path):
    lines = [
        {"id": "https://openalex.org/A5", "display_name": "Odd", "affiliations": 5},
        {"id": "https://openalex.org/W5", "title": "T", "authorships": [{"author": {"id": 7}}]},
        {"id": "https://openalex.org/W6", "title": "Fine", "authorships": [
            {"author": {"id": "https://openalex.org/A6", "display_name": "Fine Person"}, "countries": ["NO"]}]},
        [1, 2],
    ]
    path = tmp_path / "odd.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines))
    result = read_openalex(path)
    assert [p.id for _, p in result.profiles] == ["openalex-A6"]
    got = {r.line: r.reason for r in result.rejected}
    assert "unexpected OpenAlex record layout" in got[1]
    assert "no authorships with an author id" in got[2]
    assert got["4:[1]"] == "expected a JSON object, got int"  # a list on a line: its items are records
    odd = _orcid_record(GOOD_ORCID)
    odd["activities-summary"]["employments"] = ["not", "an", "object"]
    odd["person"]["addresses"] = None
    (tmp_path / "odd_orcid.json").write_text(json.dumps(odd))
    result = read_orcid(tmp_path / "odd_orcid.json")
    assert result.profiles == []
    assert result.rejected[0].reason.startswith("no country")


def test_one_openalex_file_still_merges_two_authors_with_one_orcid(tmp_path):
    """An OpenAlex reader makes one profile per author id, so merging looks only at ORCID iDs
    (`ReadResult.distinct`); two author ids with the same ORCID iD are still one person."""
    work = json.loads((FIXTURES / "openalex_works_page.json").read_text())["results"][0]
    orcid = f"https://orcid.org/{GOOD_ORCID}"
    lines = []
    for number, author in enumerate(("A11", "A12")):
        authorship = {**work["authorships"][0], "author": {"id": f"https://openalex.org/{author}", "orcid": orcid,
                                                            "display_name": "Eleni P."}}
        lines.append(json.dumps({**work, "id": f"https://openalex.org/W9{number}", "title": f"Study {number}",
                                 "authorships": [authorship]}))
    (tmp_path / "works.jsonl").write_text("\n".join(lines) + "\n")
    result = read_source(tmp_path / "works.jsonl")
    assert [p.id for _, p in result.profiles] == ["openalex-A11"]
    assert [w.id for w in result.profiles[0][1].works] == ["openalex-W90", "openalex-W91"]
    assert result.notes == [f"merged openalex-A12 into openalex-A11: same ORCID {GOOD_ORCID}"]
    same_id = [(1, result.profiles[0][1]), (2, result.profiles[0][1])]
    assert len(merge_profiles(same_id)[0]) == 1
    assert len(merge_profiles(same_id, distinct={"id", "orcid", "openalex"})[0]) == 2  # taken at its word


def test_a_work_id_too_long_for_the_format_is_rejected_and_its_authors_kept(tmp_path):
    work = json.loads((FIXTURES / "openalex_works_page.json").read_text())["results"][0]
    long_id = "https://openalex.org/W" + "9" * 300
    lines = [json.dumps({**work, "id": long_id}), json.dumps({**work, "id": "https://openalex.org/W77"})]
    (tmp_path / "works.jsonl").write_text("\n".join(lines) + "\n")
    for workers in (1, 2):
        result = read_openalex(tmp_path / "works.jsonl", workers=workers)
        [rejected] = result.rejected
        assert (rejected.line, rejected.field) == (1, "id") and "at most 191 characters, got 301" in rejected.reason
        assert result.profiles and all([w.id for w in p.works] == ["openalex-W77"] for _, p in result.profiles)
        assert_round_trips(result)
