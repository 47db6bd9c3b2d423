"""The real FastAPI app over a real SQLite store; the fake embedder keeps these fast."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from matcher.engine import Engine

NEW = {
    "id": "ke-0100",
    "name": "Wanjiru Kamau",
    "country": "Kenya",
    "institution": "University of Nairobi",
    "works": [{"title": "Groundwater aquifer recharge", "abstract": "karst aquifer nitrate transport"}],
    "gender": "female",
    "career_stage": "postdoc",
}


@pytest.fixture()
def client(fake_engine: Engine):
    app = create_app(fake_engine.config, engine=fake_engine)
    with TestClient(app) as c:
        yield c


def test_health_and_docs(client):
    assert client.get("/health").json()["status"] == "ok"
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/match", "/v1/profiles", "/v1/profiles/{profile_id}"} <= paths.keys()


def test_profile_crud_and_private_fields(client):
    created = client.post("/v1/profiles", json=NEW)
    assert created.status_code == 201, created.text
    assert created.json()["country"] == "KE"
    assert client.post("/v1/profiles", json=NEW).status_code == 409
    got = client.get("/v1/profiles/ke-0100").json()
    assert "gender" not in got and "career_stage" not in got
    replaced = client.put("/v1/profiles/ke-0100", json={**NEW, "name": "W. Kamau"})
    assert replaced.status_code == 200 and replaced.json()["name"] == "W. Kamau"
    assert client.put("/v1/profiles/other", json=NEW).status_code == 422
    assert client.delete("/v1/profiles/ke-0100").status_code == 204
    assert client.get("/v1/profiles/ke-0100").status_code == 404
    assert client.delete("/v1/profiles/ke-0100").status_code == 404


def test_match_by_id_text_and_both(client):
    bodies = ({"profile_id": "p000"}, {"text": "neural network training"}, {"profile_id": "p001", "text": "drought"})
    for body in bodies:
        response = client.post("/v1/match", json={**body, "k": 5})
        assert response.status_code == 200, response.text
        suggestions = response.json()["suggestions"]
        assert len(suggestions) == 5
        assert all({"id", "name", "country", "score", "explanation"} <= s.keys() for s in suggestions)
        if "profile_id" in body:
            mine = client.get(f"/v1/profiles/{body['profile_id']}").json()["country"]
            assert mine not in {s["country"] for s in suggestions}


def test_deleted_profile_is_gone_from_later_matches(client):
    first = client.post("/v1/match", json={"text": "groundwater aquifer", "k": 1}).json()["suggestions"][0]["id"]
    assert client.delete(f"/v1/profiles/{first}").status_code == 204
    later = client.post("/v1/match", json={"text": "groundwater aquifer", "k": 100}).json()["suggestions"]
    assert first not in {s["id"] for s in later}


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({}, 422, "profile_id, text"),
        ({"text": "x", "k": 101}, 422, "100"),
        ({"text": "x", "surprise": 1}, 422, "surprise"),
        ({"profile_id": "nobody"}, 404, "nobody"),
        ({"text": "x", "countries": ["Atlantis"]}, 422, "Atlantis"),
    ],
)
def test_bad_match_requests_get_clear_4xx(client, body, status, words):
    response = client.post("/v1/match", json=body)
    assert response.status_code == status
    assert words in response.text


def test_invalid_profile_names_the_field(client):
    response = client.post("/v1/profiles", json={**NEW, "id": "ke-0101", "country": "Atlantis"})
    assert response.status_code == 422
    assert response.json()["field"] == "country"


def test_country_groups(client):
    groups = {g["name"]: g for g in client.get("/v1/countries/groups").json()}
    assert len(groups["eu"]["members"]) == 27 and groups["widening"]["source"]
