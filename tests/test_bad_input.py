"""Bad input is a 4xx that names the field, never a 500; error bodies and logs never quote what was
sent; a real `matcher serve` keeps the connection after a bad request and logs one access line per
request (method, route template, status, ms)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.settings import ApiConfig
from matcher.assign.programme import build_request
from matcher.cli.main import app as cli
from matcher.domain.errors import InvalidQuery
from matcher.store.keys import KeyStore
from matcher.testing import free_port

SECRET_TEXT = "confidential-idea-51c2 groundwater"
SECRET_EMAIL = "hidden.person-51c2@example.org"


@pytest.fixture()
def client(fake_engine, fake_services) -> Iterator[TestClient]:
    app = create_app(fake_engine.config, services=fake_services, api=ApiConfig(rate_limit_per_minute=100_000))
    with TestClient(app, raise_server_exceptions=False) as c:
        c.headers["X-API-Key"] = KeyStore(fake_engine.store).create("admin")[1]
        yield c


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/match", {"text": "x", "k": True}, "k"),
        ("/v1/match", {"text": "x", "k": 5.0}, "k"),
        ("/v1/match", {"text": "x", "diversity": True}, "diversity"),
        ("/v1/match", {"text": "x", "exclude_own_country": 1}, "exclude_own_country"),
        ("/v1/consortia", {"call_text": "water and crops", "teams": True}, "teams"),
        ("/v1/batches", {"k": False}, "k"),
        ("/v1/match", {"text": "x", "countries": [""]}, "countries.0"),
        ("/v1/match", {"text": "x", "countries": ["DE", " "]}, "countries.1"),
        ("/v1/match", {"text": "x", "exclude_countries": [","]}, "exclude_countries.0"),
        ("/v1/match", {"text": "x", "countries": ["Atlantis"]}, "countries.0"),
        ("/v1/consortia", {"call_text": "water and crops", "pool_countries": [""]}, "pool_countries.0"),
        ("/v1/batches", {"mode": "bipartite", "sides": ["TR", ""]}, "sides.1"),
        ("/v1/batches", {"pool_countries": ["Narnia"]}, "pool_countries.0"),
    ],
)
def test_booleans_are_not_numbers_and_countries_are_real(client, path, body, field):
    response = client.post(path, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field


def test_a_validation_error_lists_where_and_what_but_never_the_value(client):
    body = {"text": SECRET_TEXT, "k": 0, "surprise": SECRET_EMAIL}
    response = client.post("/v1/match", json=body)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert {tuple(p["loc"]) for p in detail} == {("body", "k"), ("body", "surprise")}
    assert all(set(p) == {"loc", "msg", "type"} for p in detail)
    assert SECRET_TEXT not in response.text and SECRET_EMAIL not in response.text


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b'{"text": "x", "diversity": NaN}', "diversity"),
        (b'{"text": "x", "diversity": Infinity}', "diversity"),
        (b'{"text": "x", "k": -Infinity}', "k"),
        (b'{"text": "x \\ud800"}', "text"),
        (b'{"text": "x", "countries": ["DE", "\\udfff"]}', "countries"),
        (b'{"text": NaN}', "text"),
        (b'{"\\ud800": 1, "text": "x"}', None),  # in a field name: the whole body is refused
    ],
)
def test_nan_infinity_and_lone_surrogates_are_422(client, raw, field):
    response = client.post("/v1/match", content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json().get("field") == field
    if b"\\ud" in raw:
        assert "lone surrogate" in response.json()["detail"][0]["msg"]


def test_team_sizes_must_agree(client):
    for body in ({"size": 3, "min_size": 4}, {"min_size": 5, "max_size": 3}, {"size": 0}):
        response = client.post("/v1/consortia", json={"call_text": "water and crops", **body})
        assert response.status_code == 422, (body, response.text)


def test_overlapping_bipartite_sides_are_refused_before_a_job_starts(client, fake_services):
    response = client.post("/v1/batches", json={"mode": "bipartite", "sides": ["TR", "TR,DE"]})
    assert response.status_code == 422
    assert "overlap in TR" in response.json()["detail"]
    with pytest.raises(InvalidQuery, match="overlap in DE"):
        build_request("bipartite", sides=("eu", "DE"))
    assert build_request("bipartite", sides=("TR", "DE,FR")).sides == (frozenset({"TR"}), frozenset({"DE", "FR"}))


def test_an_unknown_consortium_id_is_answered_before_any_embedding(client, fake_engine, monkeypatch):
    def no_embedding(texts):
        raise AssertionError("embedded before the ids were checked")

    monkeypatch.setattr(fake_engine.embedder, "embed_uncached", no_embedding)
    for field in ("exclude", "must_include"):
        response = client.post("/v1/consortia", json={"call_text": "water and crops", field: ["nobody"]})
        assert response.status_code == 404, response.text
        assert "nobody" in response.json()["detail"]


def test_a_500_is_logged_without_the_exception_message(client, fake_engine, monkeypatch, caplog):
    def boom(*args, **kwargs):
        raise RuntimeError(f"leaked {SECRET_TEXT} {SECRET_EMAIL}")

    monkeypatch.setattr(fake_engine, "match", boom)
    caplog.set_level(logging.DEBUG)
    response = client.post("/v1/match", json={"text": SECRET_TEXT})
    assert response.status_code == 500
    assert response.json() == {"detail": "internal error", "error": "InternalError"}
    assert "RuntimeError" in caplog.text and "/v1/match" in caplog.text
    assert SECRET_TEXT not in caplog.text and SECRET_EMAIL not in caplog.text
    assert client.get("/v1/countries/groups").status_code == 200


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--size", "0"], "--size"),
        (["--size", "31"], "--size"),
        (["--min-size", "5", "--max-size", "3"], "larger than --max-size"),
        (["--size", "4", "--min-size", "2"], "contradicts"),
        (["--min-countries", "0"], "--min-countries"),
        (["--aspect", "soil carbon=nan"], "finite"),
        (["--aspect", "soil carbon=-1"], "finite"),
        (["--aspect", "soil \udcff carbon"], "UTF-8"),  # how Python passes on bytes that are not UTF-8
        (["--call", "/nonexistent/call.txt"], "does not exist"),
    ],
)
def test_consortium_usage_errors_exit_2(tmp_path, args, words):
    result = CliRunner().invoke(cli, ["consortium", "--call-text", "water and crops", *args, "--home", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert words in result.output


@pytest.mark.parametrize(
    ("args", "words"),
    [(["--text", "x", "--countries", ""], "blank"), (["--text", "aquifer \udcff recharge"], "UTF-8")],
)
def test_match_usage_errors_exit_2(tmp_path, args, words):
    result = CliRunner().invoke(cli, ["match", *args, "--home", str(tmp_path)])
    assert result.exit_code == 2 and words in result.output


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[tuple[int, str, Path]]:
    """A real `matcher serve` on an empty store; its stderr goes to a file read after the tests."""
    home = tmp_path_factory.mktemp("served")
    env = {**os.environ, "MATCHER_HOME": str(home / "store"), "HF_HUB_OFFLINE": "1"}
    key = subprocess.run([sys.executable, "-m", "matcher", "keys", "create", "--scope", "admin"], env=env,
                         capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
    port, log = free_port(), home / "stderr.log"
    with log.open("wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "matcher", "serve", "--port", str(port)], env=env,
                                stdout=subprocess.DEVNULL, stderr=err)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.HTTPError:
                assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.3)
        yield port, key, log
    finally:
        proc.terminate()
        proc.wait(timeout=30)


BAD_BODIES = [
    ("/v1/match", f'{{"text": "{SECRET_TEXT} \\ud800", "k": 3}}'.encode()),
    ("/v1/match", f'{{"text": "{SECRET_TEXT}", "diversity": NaN}}'.encode()),
    ("/v1/match", f'{{"text": "{SECRET_TEXT}", "k": Infinity}}'.encode()),
    ("/v1/profiles", f'{{"id": "ke-1", "name": "\\ud800", "country": "KE", "email": "{SECRET_EMAIL}"}}'.encode()),
    ("/v1/profiles", f'{{"id": "ke-1", "name": "N", "country": "KE", "capacity": NaN, "email": "{SECRET_EMAIL}",'
                     f' "works": [{{"title": "t", "abstract": "{SECRET_TEXT}"}}]}}'.encode()),
    ("/v1/consortia", f'{{"call_text": "{SECRET_TEXT}", "gap_threshold": -Infinity}}'.encode()),
]


@pytest.mark.integration
def test_served_bad_requests_keep_the_connection_and_leave_no_trace_in_the_log(served):
    port, key, log = served
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": key}, timeout=30) as http:
        for path, raw in BAD_BODIES:
            bad = http.post(path, content=raw, headers={"Content-Type": "application/json"})
            assert bad.status_code == 422, bad.text
            assert SECRET_TEXT not in bad.text and SECRET_EMAIL not in bad.text
            assert http.get("/v1/countries/groups").status_code == 200  # same connection, not reset
        assert http.get("/v1/profiles/nobody", params={"q": SECRET_TEXT}).status_code == 404
    time.sleep(0.5)
    text = log.read_text(encoding="utf-8", errors="replace")
    assert SECRET_TEXT not in text and SECRET_EMAIL not in text and "nobody" not in text
    assert "Traceback" not in text and "Exception in ASGI application" not in text


@pytest.mark.integration
def test_served_requests_give_one_access_line_each(served):
    port, key, log = served
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": key}, timeout=30) as http:
        http.get("/health")
        http.get("/v1/profiles/ab-4242-unique", params={"secret": "q-4242"})
        http.post("/v1/match", json={"text": "x", "k": 0})
    time.sleep(0.5)
    lines = [line for line in log.read_text().splitlines() if "matcher.access" in line]
    assert any(line.endswith("ms") and "GET /health 200 " in line for line in lines), lines
    assert any("GET /v1/profiles/{profile_id} 404 " in line for line in lines), lines
    assert any("POST /v1/match 422 " in line for line in lines), lines
    assert not [line for line in lines if "ab-4242-unique" in line or "q-4242" in line]
