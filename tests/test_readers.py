from __future__ import annotations

import json
from pathlib import Path

from matcher.ingest.readers import read_profiles


def _record(i: int) -> dict:
    return {"id": f"de-{i:04d}", "name": f"R {i}", "country": "DE", "works": [{"title": f"Work {i}"}]}


def write_broken_jsonl(path: Path, n: int = 100) -> dict[int, str]:
    """n lines, three of them broken; returns {line: expected words in the reason}."""
    lines = [json.dumps(_record(i)) for i in range(n)]
    lines[9] = '{"id": "de-0009", "name": "R 9", "country": "DE", '  # truncated JSON
    lines[41] = json.dumps({**_record(41), "country": "Narnia"})
    lines[76] = json.dumps({**_record(76), "works": [{"abstract": "no title"}]})
    path.write_text("\n".join(lines) + "\n")
    return {10: "not valid JSON", 42: "unknown country", 77: "required"}


def test_jsonl_keeps_valid_and_reports_each_broken_line(tmp_path):
    path = tmp_path / "pool.jsonl"
    expected = write_broken_jsonl(path)
    result = read_profiles(path)
    assert len(result.profiles) == 97
    assert {r.line for r in result.rejected} == set(expected)
    for rejection in result.rejected:
        assert expected[rejection.line] in rejection.reason
        assert f"pool.jsonl:{rejection.line}" in str(rejection)
    assert next(r for r in result.rejected if r.line == 42).field == "country"


def test_duplicate_ids_in_one_file_are_rejected(tmp_path):
    path = tmp_path / "dup.jsonl"
    path.write_text(json.dumps(_record(1)) + "\n" + json.dumps(_record(1)) + "\n")
    result = read_profiles(path)
    assert len(result.profiles) == 1
    assert "line 1" in result.rejected[0].reason


def test_flat_csv_with_bom_and_numbered_work_columns(tmp_path):
    path = tmp_path / "pool.csv"
    path.write_text(
        "\ufeffid,name,country,keywords,capacity,work1_title,work1_abstract,work1_year,work2_title\n"
        "gr-0001,Eleni,EL,hydrology;karst,2,Karst springs,Tracer tests in karst,2019,Aquifer recharge\n"
        "xx-0002,Nobody,Nowhere,,,Title,,,\n"
        "tr-0003,Ali,Türkiye,,,,,,\n",
        encoding="utf-8",
    )
    result = read_profiles(path)
    [(line, profile)] = result.profiles
    assert (line, profile.country, profile.capacity) == (2, "GR", 2)
    assert [w.title for w in profile.works] == ["Karst springs", "Aquifer recharge"]
    assert profile.works[0].year == 2019
    assert [(r.line, r.field) for r in result.rejected] == [(3, "country"), (4, "works")]
