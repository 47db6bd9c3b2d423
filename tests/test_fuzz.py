"""schemathesis against the app's own OpenAPI: no server errors, no response that breaks the schema.

A bounded run here (MATCHER_FUZZ_EXAMPLES per operation, default 12); `make soak` runs longer.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from api.app import create_app
from api.settings import ApiConfig
from matcher.store.keys import KeyStore

EXAMPLES = int(os.environ.get("MATCHER_FUZZ_EXAMPLES", "12"))
CASES = {"count": 0, "server_errors": 0}


@pytest.fixture()
def fuzz_app(fake_engine, fake_services):
    app = create_app(fake_engine.config, services=fake_services, api=ApiConfig(rate_limit_per_minute=1_000_000))
    with TestClient(app):  # runs the lifespan: engine, keys, audit, limiter on app.state
        app.state.fuzz_key = KeyStore(fake_engine.store).create("admin")[1]
        yield app


def test_no_server_errors_and_responses_match_the_schema(fuzz_app):
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck),
                  database=None)
        def run(case: schemathesis.Case) -> None:
            CASES["count"] += 1
            response = case.call(headers={"X-API-Key": fuzz_app.state.fuzz_key})
            if response.status_code >= 500:
                CASES["server_errors"] += 1
            case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

        try:
            run()
        except Exception as err:  # collect every operation's failure, not just the first
            failures.append(f"{operation.label}: {err}")
    assert operations >= 10
    assert not failures, "\n\n".join(failures)
