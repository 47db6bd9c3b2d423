"""schemathesis against the app's own OpenAPI: no server errors, no response that breaks the schema,
and bodies that JSON allows but the API must refuse: NaN, Infinity, -Infinity and lone surrogates.

schemathesis itself never generates those (its JSON numbers are finite, the client it sends with
refuses NaN, and its strings leave out surrogates, which UTF-8 cannot carry), so both tests here
put them in themselves: the property test into a random field of the bodies schemathesis
generates, the exhaustive one into every number and string field of every JSON body, sent as raw
bytes (`{"k": NaN}`, `{"text": "\\ud800"}`). Each must get a 4xx whose body names the field and
quotes no value, and the log must hold none of the text sent.

A bounded run here (MATCHER_FUZZ_EXAMPLES per operation, default 12); `make soak` runs longer.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from api.app import create_app
from api.settings import ApiConfig
from matcher.store.keys import KeyStore

EXAMPLES = int(os.environ.get("MATCHER_FUZZ_EXAMPLES", "12"))
CASES = {"count": 0, "server_errors": 0}
POISONS: list[Any] = [math.nan, math.inf, -math.inf, "\ud800", "tail \udfff"]
SECRET_TEXT = "confidential-idea-7f3a aquifer recharge"
SECRET_EMAIL = "hidden.person-7f3a@example.org"


@pytest.fixture()
def fuzz_app(fake_engine, fake_services):
    app = create_app(fake_engine.config, services=fake_services, api=ApiConfig(rate_limit_per_minute=1_000_000))
    with TestClient(app):  # runs the lifespan: engine, keys, audit, limiter on app.state
        app.state.fuzz_key = KeyStore(fake_engine.store).create("admin")[1]
        yield app


def _leaves(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """Paths to every number and string in a JSON value (booleans are not numbers here)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for n, item in enumerate(value):
            yield from _leaves(item, (*path, n))
    elif isinstance(value, (int, float, str)) and not isinstance(value, bool):
        yield path


def _poisoned(body: Any, path: tuple[str | int, ...], poison: Any) -> bytes:
    """`body` with `poison` at `path`, as the bytes Python's json writes: NaN, Infinity, "\\ud800"."""
    copy = json.loads(json.dumps(body))
    target = copy
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = poison
    return json.dumps(copy).encode()


def test_no_server_errors_and_responses_match_the_schema(fuzz_app, caplog):
    caplog.set_level(logging.DEBUG)
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy(), data=st.data())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck),
                  database=None)
        def run(case: schemathesis.Case, data: st.DataObject) -> None:
            CASES["count"] += 1
            headers = {"X-API-Key": fuzz_app.state.fuzz_key}
            extra: dict[str, Any] = {}
            leaves = list(_leaves(case.body)) if isinstance(case.body, dict) else []
            if leaves and data.draw(st.booleans(), label="poisoned"):
                path = data.draw(st.sampled_from(leaves), label="field")
                poison = data.draw(st.sampled_from(POISONS), label="poison")
                headers["Content-Type"] = "application/json"
                extra = {"json": None, "data": _poisoned(case.body, path, poison)}
            try:
                response = case.call(headers=headers, **extra)
            except Exception:  # the app raised instead of answering: a server error too
                CASES["server_errors"] += 1
                raise
            if response.status_code >= 500:
                CASES["server_errors"] += 1
            case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
            if extra:
                assert 400 <= response.status_code < 500, (path, poison, response.status_code, response.text)

        try:
            run()
        except Exception as err:  # collect every operation's failure, not just the first
            failures.append(f"{operation.label}: {err}")
    assert operations >= 10
    assert not failures, "\n\n".join(failures)
    assert "\\ud800" not in caplog.text and "\ud800" not in caplog.text


PROFILE = {
    "id": "ke-0777", "name": "Hidden Person", "kind": "researcher", "country": "KE", "institution": "Institute 1",
    "keywords": ["aquifer"], "capacity": 2, "orcid": "0000-0002-1825-0097", "openalex": "A123",
    "works": [{"id": "w1", "title": "Karst recharge", "abstract": SECRET_TEXT, "year": 2020, "coauthors": ["p001"]}],
    "career_stage": "postdoc", "gender": "female", "email": SECRET_EMAIL,
}
BODIES: dict[tuple[str, str], dict[str, Any]] = {  # a valid body for every operation that takes JSON
    ("POST", "/v1/profiles"): PROFILE,
    ("PUT", "/v1/profiles/{profile_id}"): {**PROFILE, "id": "p001"},
    ("POST", "/v1/match"): {
        "profile_id": "p001", "text": SECRET_TEXT, "k": 3, "countries": ["DE"], "exclude_countries": ["FR"],
        "kinds": ["researcher"], "diversity": 0.2,
    },
    ("POST", "/v1/consortia"): {
        "call_text": SECRET_TEXT, "aspects": [{"text": SECRET_TEXT, "weight": 1.0}], "min_size": 2, "max_size": 3,
        "min_countries": 1, "max_per_country": 2, "group_min": ["eu:1"], "must_include": ["p001"],
        "exclude": ["p002"], "pool_countries": ["eu"], "kinds": ["researcher"], "teams": 1, "gap_threshold": 0.3,
    },
    ("POST", "/v1/batches"): {
        "mode": "bipartite", "k": 2, "capacity": 1, "pool_ids": ["p001", "p002"], "pool_countries": ["eu"],
        "exclude_countries": ["PL"], "sides": ["DE", "FR"],
    },
    ("POST", "/v1/keys"): {"scope": "owner", "owner": "p001", "label": SECRET_TEXT},
    ("POST", "/v1/agendas"): {
        "event": {"name": SECRET_TEXT, "tables": 2, "max_meetings": 2, "availability": {"p001": [1]},
                  "slots": [{"start": "2026-03-10T09:00", "end": "2026-03-10T09:25"}]},
        "requests": [{"requester_id": "p001", "target_id": "p002", "priority": 2.0}], "participant_ids": ["p001"],
    },
}


def test_every_json_body_operation_has_a_body_to_poison(fuzz_app):
    spec = fuzz_app.openapi()
    takes_json = {
        (method.upper(), path) for path, operations in spec["paths"].items() for method, op in operations.items()
        if "application/json" in op.get("requestBody", {}).get("content", {})
    }
    assert takes_json == set(BODIES)


@pytest.mark.parametrize(("method", "path"), list(BODIES), ids=[f"{m} {p}" for m, p in BODIES])
def test_nan_infinity_and_lone_surrogates_in_any_field_are_a_4xx_naming_it(fuzz_app, caplog, method, path):
    caplog.set_level(logging.DEBUG)
    body = BODIES[(method, path)]
    url = path.replace("{profile_id}", "p001")
    failures = []
    with TestClient(fuzz_app, raise_server_exceptions=False) as client:
        headers = {"X-API-Key": fuzz_app.state.fuzz_key, "Content-Type": "application/json"}
        for leaf in _leaves(body):
            for poison in POISONS:
                CASES["count"] += 1
                response = client.request(method, url, content=_poisoned(body, leaf, poison), headers=headers)
                CASES["server_errors"] += response.status_code >= 500
                answer = response.json()  # always valid JSON, whatever was sent
                field, named = ".".join(str(step) for step in leaf), answer.get("field") or "-"
                if (response.status_code != 422 or not (field == named or field.startswith(f"{named}."))
                        or SECRET_TEXT in response.text or SECRET_EMAIL in response.text or '"input"' in response.text):
                    failures.append(f"{field} = {poison!r}: {response.status_code} {response.text[:300]}")
    assert not failures, "\n".join(failures)
    assert SECRET_TEXT not in caplog.text and SECRET_EMAIL not in caplog.text
