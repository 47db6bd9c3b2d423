"""The real FastAPI app over a real SQLite store; the fake embedder keeps these fast."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiConfig
from matcher.service.engine import Engine
from matcher.store.keys import KeyStore

NEW = {
    "id": "ke-0100",
    "name": "Wanjiru Kamau",
    "country": "Kenya",
    "institution": "University of Nairobi",
    "works": [{"title": "Groundwater aquifer recharge", "abstract": "karst aquifer nitrate transport"}],
    "gender": "female",
    "career_stage": "postdoc",
    "email": "w.kamau@example.org",
}
PRIVATE_VALUES = ("female", "postdoc", "w.kamau@example.org")


@pytest.fixture()
def keys(fake_engine: Engine) -> dict[str, str]:
    store = KeyStore(fake_engine.store)
    out = {scope: store.create(scope)[1] for scope in ("read", "agency", "admin")}
    out["owner"] = store.create("owner", owner="p001")[1]
    return out


@pytest.fixture()
def client(fake_engine: Engine, keys, fake_services):
    app = create_app(fake_engine.config, services=fake_services, api=ApiConfig(rate_limit_per_minute=10_000))
    with TestClient(app, headers={"X-API-Key": keys["admin"]}) as c:
        yield c


def test_health_and_docs_need_no_key(client):
    assert client.get("/health", headers={"X-API-Key": ""}).json()["status"] == "ok"
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/match", "/v1/profiles", "/v1/profiles/{profile_id}", "/v1/consortia"} <= paths.keys()


def test_profile_crud_and_private_fields(client, keys):
    created = client.post("/v1/profiles", json=NEW)
    assert created.status_code == 201, created.text
    assert created.json()["country"] == "KE"
    assert client.post("/v1/profiles", json=NEW).status_code == 409
    public = client.get("/v1/profiles/ke-0100", headers={"X-API-Key": keys["read"]})
    assert public.status_code == 200 and public.json()["private"] is None
    assert not any(v in public.text for v in PRIVATE_VALUES)
    assert client.get("/v1/profiles/ke-0100").json()["private"]["gender"] == "female"  # admin may see
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
        ({"text": "x" * 20_001}, 422, "20000"),
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


def test_an_organisation_role_goes_in_comes_out_and_is_checked(client):
    body = {**NEW, "id": "org-acme", "kind": "organisation", "role": "private for-profit entities", "sme": True}
    created = client.post("/v1/profiles", json=body)
    assert created.status_code == 201, created.text
    assert (created.json()["role"], created.json()["sme"]) == ("PRC", True)
    assert client.get("/v1/profiles/org-acme").json()["role"] == "PRC"
    found = client.post("/v1/match", json={"text": NEW["works"][0]["title"], "k": 50}).json()["suggestions"]
    acme = next(s for s in found if s["id"] == "org-acme")
    assert (acme["role"], acme["sme"]) == ("PRC", True)
    assert all(s["role"] is None and s["sme"] is None for s in found if s["id"] != "org-acme")  # the others: not said
    client.put("/v1/profiles/org-acme", json={**body, "sme": False})
    found = client.post("/v1/match", json={"text": NEW["works"][0]["title"], "k": 50}).json()["suggestions"]
    assert next(s for s in found if s["id"] == "org-acme")["sme"] is False  # said "no" is not "not said"
    wrong = client.post("/v1/profiles", json={**body, "id": "org-bad", "role": "startup"})
    assert wrong.status_code == 422 and wrong.json()["field"] == "role"


def test_country_groups(client):
    groups = {g["name"]: g for g in client.get("/v1/countries/groups").json()}
    assert len(groups["eu"]["members"]) == 27 and groups["widening"]["source"]


CALL = {"call_text": "Groundwater aquifer transport. Drought crop irrigation. Neural network training.", "size": 3}
ENDPOINTS = [
    # (method, path, body, who may: the scopes that get 2xx)
    ("post", "/v1/match", {"text": "aquifer"}, {"read", "agency", "admin", "owner"}),
    ("post", "/v1/consortia", CALL, {"agency", "admin"}),
    ("get", "/v1/profiles", None, {"read", "agency", "admin", "owner"}),
    ("get", "/v1/profiles/p002", None, {"read", "agency", "admin"}),  # an owner key reads only its own
    ("get", "/v1/profiles/p001", None, {"read", "agency", "admin", "owner"}),
    ("post", "/v1/profiles", {**NEW, "id": "zz-1"}, {"admin"}),
    ("put", "/v1/profiles/p001", {**NEW, "id": "p001"}, {"admin", "owner"}),  # the owner key owns p001
    ("put", "/v1/profiles/p002", {**NEW, "id": "p002"}, {"admin"}),  # ... but not p002
    ("delete", "/v1/profiles/p003", None, {"admin"}),
    ("get", "/v1/keys", None, {"admin"}),
    ("post", "/v1/keys", {"scope": "read"}, {"admin"}),
    ("get", "/v1/audit", None, {"admin"}),
    ("get", "/v1/countries/groups", None, {"read", "agency", "admin", "owner"}),
    ("post", "/v1/batches", {"mode": "topk", "k": 2}, {"agency", "admin"}),
    ("post", "/v1/profiles/import?format=jsonl", None, {"admin"}),
    ("get", "/v1/batches/nojob", None, {"agency", "admin"}),  # allowed callers get 404 for an unknown job
    ("get", "/v1/batches/nojob/result", None, {"agency", "admin"}),
    ("delete", "/v1/keys/nokey", None, {"admin"}),
]


UNKNOWN = ("/nojob", "/nojob/result", "/nokey")


@pytest.mark.parametrize(("method", "path", "body", "allowed"), ENDPOINTS)
@pytest.mark.parametrize("who", ["none", "bad", "read", "agency", "admin", "owner"])
def test_access_matrix(fake_engine, keys, method, path, body, allowed, who, fake_services):
    app = create_app(fake_engine.config, services=fake_services, api=ApiConfig(rate_limit_per_minute=10_000))
    headers = {} if who == "none" else {"X-API-Key": "mk_nope_123" if who == "bad" else keys[who]}
    with TestClient(app) as c:
        if path.endswith("import?format=jsonl"):
            line = '{"id": "im-1", "name": "I", "country": "DE", "works": [{"title": "T"}]}\n'
            response = c.post(path, content=line.encode(), headers=headers)
        else:
            response = c.request(method, path, json=body, headers=headers)
    expected = 401 if who in ("none", "bad") else (200 if who in allowed else 403)
    status = response.status_code
    if expected == 200:  # allowed: past the access check (2xx, or 404 for an unknown object), never 5xx
        assert status // 100 == 2 or (status == 404 and path.endswith(UNKNOWN)), (status, response.text)
    else:
        assert status == expected, (status, response.text)


def test_batch_jobs_belong_to_the_key_that_started_them(fake_engine, keys, fake_services):
    other_agency = KeyStore(fake_engine.store).create("agency", label="another agency")[1]
    app = create_app(fake_engine.config, services=fake_services, api=ApiConfig(rate_limit_per_minute=10_000))
    with TestClient(app) as c:
        job = c.post("/v1/batches", json={"mode": "topk", "k": 2}, headers={"X-API-Key": keys["agency"]}).json()
        for _ in range(400):
            if c.get(f"/v1/batches/{job['id']}", headers={"X-API-Key": keys["agency"]}).json()["status"] == "done":
                break
            time.sleep(0.05)
        for path in (f"/v1/batches/{job['id']}", f"/v1/batches/{job['id']}/result",
                     f"/v1/batches/{job['id']}/result?format=csv"):
            assert c.get(path, headers={"X-API-Key": keys["agency"]}).status_code == 200
            assert c.get(path, headers={"X-API-Key": keys["admin"]}).status_code == 200
            foreign = c.get(path, headers={"X-API-Key": other_agency})
            assert foreign.status_code == 404, path  # as if it did not exist: nothing about it is revealed
            assert "pairs" not in foreign.text
            assert c.get(path, headers={"X-API-Key": keys["read"]}).status_code == 403


def test_an_owner_key_lists_only_its_own_profile(client, keys):
    listed = client.get("/v1/profiles", headers={"X-API-Key": keys["owner"]}, params={"limit": 1000}).json()
    assert [p["id"] for p in listed] == ["p001"]
    assert len(client.get("/v1/profiles", params={"limit": 1000}).json()) > 1  # the admin key lists all


def test_health_and_docs_are_open_to_everyone(fake_engine, fake_services):
    with TestClient(create_app(fake_engine.config, services=fake_services)) as c:
        assert c.get("/health").status_code == 200
        assert c.get("/openapi.json").status_code == 200


def test_private_fields_never_leak_to_read_agency_or_other_owner(client, keys):
    client.post("/v1/profiles", json=NEW)
    for who in ("read", "agency", "owner"):
        headers = {"X-API-Key": keys[who]}
        texts = [
            client.get("/v1/profiles/ke-0100", headers=headers).text,
            client.get("/v1/profiles", headers=headers, params={"limit": 1000}).text,
            client.post("/v1/match", json={"text": "groundwater aquifer recharge", "k": 50}, headers=headers).text,
            client.post("/v1/match", json={"profile_id": "ke-0100", "k": 50}, headers=headers).text,
            client.post("/v1/consortia", json=CALL, headers={"X-API-Key": keys["agency"]}).text,
        ]
        for text in texts:
            assert not any(v in text for v in PRIVATE_VALUES), who
    # agency and admin outputs that are not about one profile never carry them either
    job = client.post("/v1/batches", json={"mode": "topk", "k": 3}, headers={"X-API-Key": keys["agency"]}).json()
    for _ in range(400):
        if client.get(f"/v1/batches/{job['id']}").json()["status"] in ("done", "failed"):
            break
        time.sleep(0.05)
    others = [
        client.get(f"/v1/batches/{job['id']}/result").text,
        client.get(f"/v1/batches/{job['id']}/result", params={"format": "csv"}).text,
        client.get("/v1/audit").text,
        client.get("/v1/keys").text,
        client.get("/openapi.json").text,
    ]
    assert "ke-0100" in others[0]  # the profile took part ...
    for text in others:
        assert not any(v in text for v in PRIVATE_VALUES)  # ... without its private fields


def test_rate_limit_answers_429_with_retry_after(fake_engine, keys, fake_services):
    app = create_app(fake_engine.config, services=fake_services, api=ApiConfig(rate_limit_per_minute=3))
    with TestClient(app, headers={"X-API-Key": keys["read"]}) as c:
        statuses = [c.get("/v1/profiles").status_code for _ in range(5)]
        assert statuses[:3] == [200, 200, 200] and statuses[3] == 429
        limited = c.get("/v1/profiles")
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1


def test_body_limits_hold_with_and_without_content_length(fake_engine, keys, fake_services):
    app = create_app(fake_engine.config, services=fake_services, api=ApiConfig(max_body_bytes=2000))
    with TestClient(app, headers={"X-API-Key": keys["admin"]}) as c:
        big = {"text": "aquifer " * 500}
        assert c.post("/v1/match", json=big).status_code == 413

        def chunks():
            for _ in range(10):
                yield b'{"text": "' + b"a" * 500

        chunked = c.post("/v1/match", content=chunks(), headers={"content-type": "application/json"})
        assert chunked.status_code == 413
        assert "larger than 2000 bytes" in chunked.text


def test_audit_rows_without_query_text(client):
    client.post("/v1/match", json={"text": "secret project about aquifers", "k": 3})
    rows = client.get("/v1/audit").json()
    assert rows[0]["action"] == "match" and rows[0]["scope"] == "admin" and rows[0]["key_id"]
    assert "secret project" not in str(rows)


def test_no_stack_trace_in_a_500(fake_engine, keys, monkeypatch, fake_services):
    def boom(*args, **kwargs):
        raise RuntimeError("internal detail /secret/path")

    monkeypatch.setattr(fake_engine, "match", boom)
    app = create_app(fake_engine.config, services=fake_services)
    with TestClient(app, raise_server_exceptions=False, headers={"X-API-Key": keys["read"]}) as c:
        response = c.post("/v1/match", json={"text": "x"})
    assert response.status_code == 500
    assert response.json() == {"detail": "internal error", "error": "InternalError"}


def test_erasure_removes_every_trace(client, fake_engine, keys):
    from matcher.store.base import text_hash

    abstract = "Unique isotopic tracer study of alpine permafrost meltwater in glacial forefields"
    body = {**NEW, "id": "xx-erase", "works": [{"title": "Permafrost meltwater tracers", "abstract": abstract}]}
    assert client.post("/v1/profiles", json=body).status_code == 201
    owner = KeyStore(fake_engine.store).create("owner", owner="xx-erase")[1]
    found = client.post("/v1/match", json={"text": abstract, "k": 3}).json()["suggestions"]
    assert found[0]["id"] == "xx-erase"
    digest = text_hash(f"Permafrost meltwater tracers. {abstract}")
    assert fake_engine.store.cached_vectors(fake_engine.embedder.model_id, [digest])
    assert client.delete("/v1/profiles/xx-erase", headers={"X-API-Key": owner}).status_code == 204  # self-erasure
    after = client.post("/v1/match", json={"text": abstract, "k": 100}).json()["suggestions"]
    assert "xx-erase" not in {s["id"] for s in after}
    assert not fake_engine.store.cached_vectors(fake_engine.embedder.model_id, [digest])
    assert client.get("/v1/profiles", headers={"X-API-Key": owner}).status_code == 401  # its key is revoked
    assert "xx-erase" not in str(client.get("/v1/audit").json())
    assert fake_engine.wait_for_merge(60)  # the erasure's merge: a new snapshot without its rows
    corpus = fake_engine.corpus()
    assert "xx-erase" not in corpus.row_of and len(corpus.delta) == 0 and corpus.active.all()
    for path in fake_engine.store.state_dir.rglob("*"):  # no state file holds its id, title or words
        if path.is_file():
            data = path.read_bytes()
            assert b"xx-erase" not in data and b"Permafrost meltwater" not in data and b"isotopic" not in data, path


def test_batch_job_lifecycle_and_restart(fake_engine, keys, fake_services):
    import time

    from matcher.store.jobs import JobStore

    app = create_app(fake_engine.config, services=fake_services, api=ApiConfig(rate_limit_per_minute=10_000))
    with TestClient(app, headers={"X-API-Key": keys["agency"]}) as c:
        started = c.post("/v1/batches", json={"mode": "topk", "k": 3})
        assert started.status_code == 202, started.text
        job = started.json()["id"]
        for _ in range(200):
            status = c.get(f"/v1/batches/{job}").json()
            if status["status"] in ("done", "failed"):
                break
            time.sleep(0.05)
        assert status["status"] == "done", status
        result = c.get(f"/v1/batches/{job}/result").json()
        assert len(result["pairs"]) == 48 * 3
        countries = {p.id: p.country for p in fake_engine.store.profiles()}
        assert all(countries[p["applicant_id"]] != countries[p["partner_id"]] for p in result["pairs"])
        csv = c.get(f"/v1/batches/{job}/result", params={"format": "csv"})
        assert csv.text.splitlines()[0].startswith("applicant_id,partner_id,score,rank,reason,strength,strength_label,")
        assert c.get("/v1/batches/nope").status_code == 404
        assert c.post("/v1/batches", json={"mode": "bipartite"}).status_code == 422
        # erasure reaches kept batch outputs
        victim = result["pairs"][0]["applicant_id"]
        assert c.delete(f"/v1/profiles/{victim}", headers={"X-API-Key": keys["admin"]}).status_code == 204
        after = c.get(f"/v1/batches/{job}/result").json()
        assert victim not in str(after)
        assert victim not in c.get(f"/v1/batches/{job}/result", params={"format": "csv"}).text
    # a job left running by a stopped service is reported as failed after a restart
    stuck = JobStore(fake_engine.store).create({"mode": "topk"}, keys["agency"].split("_")[1])  # by that key
    JobStore(fake_engine.store).progress(stuck, 1, 10)
    with TestClient(app, headers={"X-API-Key": keys["agency"]}) as c:
        status = c.get(f"/v1/batches/{stuck}").json()
    assert status["status"] == "failed" and "stopped while this job was running" in status["error"]


def test_import_upload_keeps_valid_reports_broken_and_limits_size(fake_engine, keys, tmp_path, fake_services):
    import io
    import zipfile

    from .conftest import SHARED
    from .test_readers import write_broken_jsonl

    path = tmp_path / "pool.jsonl"
    write_broken_jsonl(path)
    app = create_app(fake_engine.config, services=fake_services, api=ApiConfig(max_upload_bytes=1_000_000))
    with TestClient(app, headers={"X-API-Key": keys["admin"]}) as c:
        response = c.post("/v1/profiles/import", params={"format": "jsonl"}, content=path.read_bytes())
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["added"], body["rejected"]) == (97, 3)
        assert [r["line"] for r in body["rejections"]] == [10, 42, 77]
        again = c.post("/v1/profiles/import", params={"format": "jsonl"}, content=path.read_bytes()).json()
        assert (again["added"], again["unchanged"]) == (0, 97)
        huge = c.post("/v1/profiles/import", params={"format": "jsonl"}, content=b"x" * 1_100_000)
        assert huge.status_code == 413
        assert c.post("/v1/profiles/import", params={"format": "cordis"}, content=b"not a zip").status_code == 400
        sample = SHARED / "cordis-horizon-sample"
        if sample.exists():
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w") as archive:
                for name in ("project.csv", "organization.csv"):
                    archive.write(sample / name, f"export/{name}")
            cordis = c.post("/v1/profiles/import", params={"format": "cordis"}, content=buffer.getvalue())
            assert cordis.status_code == 200, cordis.text
            assert cordis.json()["added"] > 10
