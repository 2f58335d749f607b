"""/healthz says the process is alive; /readyz checks what serving needs."""

from __future__ import annotations

import pytest

from tests.conftest import Api


async def test_healthz(api: Api) -> None:
    response = await api.client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_checks_database_keyring_and_cvc_store(api: Api) -> None:
    response = await api.client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "keyring": "ok", "cvc_store": "ok"},
    }


@pytest.mark.settings(redis_url="redis://127.0.0.1:1/0")
async def test_readyz_is_503_naming_the_failing_dependency(api: Api) -> None:
    response = await api.client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["cvc_store"].startswith("failed")


async def test_every_response_carries_a_request_id(api: Api) -> None:
    first = await api.get("/v1/customers")
    second = await api.client.get("/v1/customers")  # no key: 401, still an id
    assert first.headers["request-id"].startswith("req_")
    assert second.headers["request-id"].startswith("req_")
    assert first.headers["request-id"] != second.headers["request-id"]
