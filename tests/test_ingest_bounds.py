"""Inputs over the bounds of `ReadLimits`: each is one record's rejection (its line and why, the other
records kept) or one clear error for the file, never a traceback and never unbounded memory; the
large files go through the real command line, whose peak RSS is measured."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import tempfile
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiConfig
from bench.soak_oversize import clear_error, ingest_run
from matcher.domain.errors import MatcherError
from matcher.ingest import files
from matcher.ingest.bounds import ReadLimits
from matcher.ingest.detect import read_source
from matcher.ingest.files import json_records, text_lines
from matcher.ingest.openalex import parse_openalex, read_openalex
from matcher.ingest.parallel import parallel_records
from matcher.ingest.readers import read_profiles
from matcher.ingest.spreadsheet import parse_mapping, read_spreadsheet
from matcher.ingest.uploads import read_upload
from matcher.service import profiles as use_cases
from matcher.service.bootstrap import bootstrap
from matcher.service.config import load_config
from matcher.store.keys import KeyStore
from matcher.testing import FakeEmbedder

SMALL = ReadLimits(line_bytes=2048, field_bytes=1024, document_bytes=16384, unpacked_bytes=1 << 20)


def _record(i: int, **extra: object) -> dict[str, object]:
    return {"id": f"de-{i:04d}", "name": f"R {i}", "country": "DE", "works": [{"title": f"Work {i}"}], **extra}


def _lines(*records: object) -> bytes:
    return b"".join((r if isinstance(r, bytes) else json.dumps(r).encode()) + b"\n" for r in records)


def test_json_lines_break_only_at_line_feeds(tmp_path):
    """U+2028 and U+2029 are valid inside JSON strings (CORDIS objectives hold them) and never
    end a record; a CR before the LF is ignored, as is a byte-order mark."""
    abstract = "Soil carbon\u2028in drylands\u2029and its measurement"
    text = json.dumps(_record(1, works=[{"title": "Dryland soils", "abstract": abstract}]), ensure_ascii=False)
    path = tmp_path / "pool.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode() + b"\r\n" + json.dumps(_record(2)).encode() + b"\r\n")
    for result in (read_profiles(path), read_source(path)):
        assert not result.rejected
        assert [p.id for _, p in result.profiles] == ["de-0001", "de-0002"]
        assert result.profiles[0][1].works[0].abstract == abstract


def test_a_line_over_the_bound_is_rejected_and_the_others_kept(tmp_path):
    path = tmp_path / "pool.jsonl"
    huge = _record(2, works=[{"title": "x" * 5000}])
    path.write_bytes(_lines(_record(1), huge, _record(3)) + json.dumps(huge).encode())  # the last line unended
    result = read_profiles(path, limits=SMALL)
    assert [p.id for _, p in result.profiles] == ["de-0001", "de-0003"]
    assert [r.line for r in result.rejected] == [2, 4]
    assert all("longer than 2 KiB" in r.reason for r in result.rejected)


def test_openalex_lines_over_the_bound_are_rejected_in_one_process_and_in_several(tmp_path):
    def work(i: int, title: str) -> dict[str, object]:
        author = {"author": {"id": f"https://openalex.org/A{i}", "display_name": f"A {i}"},
                  "institutions": [{"display_name": "U", "country_code": "DE"}]}
        return {"id": f"https://openalex.org/W{i}", "title": title, "publication_year": 2020, "authorships": [author]}

    rows = [work(i, "y" * (4000 if i % 3 == 1 else 10)) for i in range(30)]
    path = tmp_path / "works.jsonl"
    path.write_bytes(_lines(*rows))
    one = read_openalex(path, workers=1, limits=SMALL)
    assert sorted(r.line for r in one.rejected) == [i + 1 for i in range(30) if i % 3 == 1]
    assert all("longer than 2 KiB" in r.reason for r in one.rejected)
    assert len(one.profiles) == 20
    records = parallel_records(path, 2, chunk_bytes=1500, limits=SMALL)
    assert records is not None and parse_openalex(records, source=path.name) == one


def test_text_lines_skip_lines_over_the_bound_whatever_the_block_size(monkeypatch):
    data = b"short\n" + b"a" * 25 + b"\n\n" + b"b" * 9 + b"\nmid\n" + b"c" * 40 + b"\ntail" + b"d" * 30
    lines = [line for line in io.BytesIO(data)]
    expected = [(line, True) if len(line) <= 10 else (None, False) for line in lines]
    for block in (1, 2, 3, 7, 11, 64):
        monkeypatch.setattr(files, "_BLOCK", block)
        monkeypatch.setattr(files, "_TAIL", max(1, block // 2))
        for buffer in (None, bytearray(block)):
            got = [(None if line is None else bytes(line), text)
                   for line, text in text_lines(io.BytesIO(data), buffer=buffer, max_line=10)]
            assert got == expected, block
            for limit in range(len(data) + 2):
                starts = [sum(map(len, lines[:i])) for i in range(len(lines))]
                got = [line for line, _ in text_lines(io.BytesIO(data), limit, buffer, max_line=10)]
                assert len(got) == sum(start < limit for start in starts)


def test_a_first_line_over_the_bound_refuses_the_file(tmp_path):
    big = json.dumps(_record(1, works=[{"title": "z" * 5000}])).encode()
    for name in ("pool.jsonl", "pool.csv"):
        path = tmp_path / name
        path.write_bytes(big + b"\n" + json.dumps(_record(2)).encode() + b"\n")
        with pytest.raises(MatcherError, match="line 1 is longer than 2 KiB"):
            read_source(path, name.split(".")[1], limits=SMALL)
    # a JSON document on one long line is read whole, up to its own bound
    page = tmp_path / "page.json"
    page.write_text(json.dumps({"meta": {}, "results": [{"id": "https://openalex.org/W1", "title": "t" * 3000}]}))
    assert [where for where, _ in json_records(page, limits=SMALL)] == ["results[0]"]
    page.write_text(json.dumps({"meta": {}, "results": [{"title": "t" * 20000}]}))
    with pytest.raises(MatcherError, match="line 1 is longer than 2 KiB.*larger than 16 KiB"):
        list(json_records(page, limits=SMALL))


def test_csv_cells_and_rows_over_the_bounds_are_rejected(tmp_path):
    path = tmp_path / "pool.csv"
    header = "id,name,country,work1_title,work1_abstract\n"
    rows = [
        "de-0001,R 1,DE,Work 1,short\n",
        "de-0002,R 2,DE,Work 2," + "a" * 1500 + "\n",  # a cell over 1 KiB
        "de-0003,R 3,DE,Work 3," + "b " * 1500 + "\n",  # a line over 2 KiB
        'de-0004,R 4,DE,"Work 4","two\nlines"\n',
        "de-0005,R 5,DE,Work 5,\xe9t\xe9\n",  # not UTF-8: Latin-1 bytes
    ]
    path.write_bytes(header.encode() + "".join(rows[:4]).encode() + rows[4].encode("latin-1"))
    result = read_profiles(path, limits=SMALL)
    assert [(line, p.id) for line, p in result.profiles] == [(2, "de-0001"), (5, "de-0004")]
    reasons = {r.line: r.reason for r in result.rejected}
    assert "a cell is longer than 1 KiB" in reasons[3]
    assert "longer than 2 KiB" in reasons[4]
    assert "not UTF-8" in reasons[7]
    # a quoted cell over many short lines: the record is bounded as a whole
    with path.open("ab") as fh:
        fh.write(b'de-0006,R 6,DE,Work 6,"' + b"many short lines\n" * 300 + b'"\n')
    result = read_profiles(path, limits=SMALL)
    assert [p.id for _, p in result.profiles][:2] == ["de-0001", "de-0004"]
    assert any(r.line > 8 and "runs over lines" in r.reason for r in result.rejected)


def test_a_30_mib_cell_is_one_rejection_at_the_default_bounds(tmp_path):
    path = tmp_path / "pool.csv"
    with path.open("w") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "name", "country", "work1_title", "work1_abstract"])
        writer.writerow(["de-0001", "R 1", "DE", "Work 1", "fine"])
        writer.writerow(["de-0002", "R 2", "DE", "Work 2", "x" * (30 << 20)])
        writer.writerow(["de-0003", "R 3", "DE", "Work 3", "fine"])
    result = read_source(path)
    assert [p.id for _, p in result.profiles] == ["de-0001", "de-0003"]
    [rejection] = result.rejected
    assert rejection.line == 3 and "longer than 4 MiB" in rejection.reason


def test_cordis_rows_over_the_bounds_are_rejected_with_their_file(tmp_path):
    (tmp_path / "project.csv").write_text(
        "id;acronym;title;objective;startDate\n"
        "1;A;Soil carbon;Drylands;2020-01-01\n"
        "2;B;Huge;" + "o " * 2000 + ";2021-01-01\n"
        "3;C;Water;Aquifers;2022-01-01\n"
    )
    (tmp_path / "organization.csv").write_text(
        "projectID;organisationID;name;country\n1;10;Uni A;DE\n2;20;Uni B;FR\n3;30;Uni C;TR\n"
    )
    result = read_source(tmp_path, "cordis", limits=SMALL)
    assert sorted(p.id for _, p in result.profiles) == ["cordis-org-10", "cordis-org-30"]
    where = {(r.source, r.line): r.reason for r in result.rejected}
    assert "longer than 2 KiB" in where[("project.csv", 3)]
    assert "not in project.csv" in where[("organization.csv", 3)]


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_zips_that_expand_too_much_are_refused_before_unpacking(tmp_path):
    projects = b"id;acronym;title;objective\n1;A;T;O\n"
    orgs = b"projectID;organisationID;name;country\n1;10;Uni;DE\n"
    bomb = _zip({"project.csv": b"\0" * (40 << 20), "organization.csv": orgs})
    with pytest.raises(MatcherError, match=r"project.csv expands more than 100x"):
        read_upload(bomb, "cordis")
    fine = _zip({"x/project.csv": projects, "x/organization.csv": orgs})
    assert [p.id for _, p in read_upload(fine, "cordis").profiles] == ["cordis-org-10"]
    with pytest.raises(MatcherError, match="unpacks to more than 64 bytes"):
        read_upload(fine, "cordis", ReadLimits(unpacked_bytes=64))
    workbook = tmp_path / "form.xlsx"
    workbook.write_bytes(_zip({"xl/worksheets/sheet1.xml": b" " * (40 << 20)}))
    with pytest.raises(MatcherError, match="sheet1.xml expands more than 100x"):
        read_spreadsheet(workbook, parse_mapping({"id": "ID"}))


def test_upload_errors_are_400s_that_name_no_server_path(fake_services):
    fake_services.config = dataclasses.replace(fake_services.config, read_limits=SMALL)
    key = KeyStore(fake_services.store).create("admin")[1]
    app = create_app(fake_services.config, services=fake_services, api=ApiConfig(rate_limit_per_minute=10_000))
    long_first = b"{" + b" " * 5000 + b"}\n" + _lines(_record(1))
    cases = [
        ("jsonl", long_first, "upload.jsonl: line 1 is longer than 2 KiB"),
        ("csv", b"\0" * 5000, "upload.csv: line 1 is longer than 2 KiB"),
        ("openalex", b"\0" * 20000, "upload.jsonl: line 1 is longer than 2 KiB"),
        ("cordis", _zip({"project.csv": b"\0" * (40 << 20), "organization.csv": b"x"}), "expands more than 100x"),
        ("cordis", _zip({"project.csv": b"id\n"}), "the zip must contain"),
    ]
    with TestClient(app, headers={"X-API-Key": key}) as c:
        for fmt, body, message in cases:
            response = c.post("/v1/profiles/import", params={"format": fmt}, content=body)
            assert response.status_code == 400, (fmt, response.text)
            assert message in response.json()["detail"], response.text
            assert tempfile.gettempdir() not in response.text
        mixed = _lines(_record(1), _record(2, works=[{"title": "w" * 5000}]), _record(3))
        body = c.post("/v1/profiles/import", params={"format": "jsonl"}, content=mixed).json()
        assert (body["added"], body["rejected"], body["rejections"][0]["line"]) == (2, 1, 2)


def test_the_configured_bounds_reach_the_readers(monkeypatch, tmp_path):
    for name, value in {"LINE": 2048, "FIELD": 1024, "DOCUMENT": 16384, "UNPACKED": 1 << 20}.items():
        monkeypatch.setenv(f"MATCHER_MAX_{name}_BYTES", str(value))
    config = load_config(home=tmp_path / "store")
    assert config.read_limits == SMALL
    fake = FakeEmbedder()
    services = bootstrap(config, embedder_factory=lambda: fake, model_id=fake.model_id)
    path = tmp_path / "pool.jsonl"
    path.write_bytes(_lines(_record(1), _record(2, works=[{"title": "w" * 3000}])))
    report = use_cases.ingest(services, path)
    assert (report.added, [r.line for r in report.rejections]) == (1, [2])
    services.close()


def _sparse(path: Path, size: int = 2 << 30) -> Path:
    with path.open("wb") as fh:
        fh.truncate(size)
    return path


@pytest.mark.parametrize("name", ["sparse.jsonl", "sparse.csv"])
def test_a_2_gib_sparse_file_is_one_clear_error_in_bounded_memory(tmp_path, name):
    run = ingest_run(str(_sparse(tmp_path / name)), home=tmp_path / "store", timeout=120)
    assert clear_error(run, name, "line 1 is longer than 4 MiB"), run.stderr
    assert run.peak_rss_gib < 1.0


def test_dev_zero_is_one_clear_error_in_bounded_time_and_memory(tmp_path):
    for fmt in ("jsonl", "openalex", "csv"):
        run = ingest_run("/dev/zero", "--format", fmt, home=tmp_path / "store", timeout=60)
        assert clear_error(run, "/dev/zero", "line 1 is longer than 4 MiB"), run.stderr
        assert run.peak_rss_gib < 1.0 and run.seconds < 60
