"""Property-based fuzzing of every operation in /openapi.json: bad input gets a 4xx with
``param`` set where it names a parameter, never a 5xx."""

from __future__ import annotations

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck

from tests.e2e.conftest import LiveServer

pytestmark = pytest.mark.slow

EXAMPLES_PER_OPERATION = 30


def test_no_operation_answers_5xx(live_server: LiveServer) -> None:
    base = live_server.server.base_url
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    headers = {"Authorization": f"Bearer {live_server.secret_key}"}
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @hypothesis.settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        @hypothesis.given(case=operation.as_strategy())
        def check(case: schemathesis.Case) -> None:
            response = case.call(base_url=base, headers=headers)
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code}: "
                    f"{response.text[:300]}"
                )
            elif 400 <= response.status_code < 500:
                body = response.json()
                assert "error" in body and "message" in body["error"], response.text

        check()
    assert operations >= 20
    assert failures == [], "\n".join(failures[:20])
