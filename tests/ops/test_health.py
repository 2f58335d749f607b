"""/healthz says the process is alive; /readyz checks what serving needs."""

from __future__ import annotations

import pytest

from smartpay.kit.clock import now
from smartpay.ops import heartbeat
from tests.conftest import Api


async def test_healthz(api: Api) -> None:
    response = await api.client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_checks_database_keyring_cvc_store_and_worker(api: Api) -> None:
    await heartbeat.beat(api.app.state.platform.database, now(), now())  # type: ignore[attr-defined]
    response = await api.client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "keyring": "ok", "cvc_store": "ok", "worker": "ok"},
    }


async def test_readyz_without_a_live_worker_says_so(api: Api) -> None:
    never = await api.client.get("/readyz")
    assert never.status_code == 503
    assert never.json()["checks"]["worker"] == "failed: no worker has run: start `smartpay worker`"
    long_ago = now() - 3600
    await heartbeat.beat(api.app.state.platform.database, long_ago, long_ago)  # type: ignore[attr-defined]
    stale = await api.client.get("/readyz")
    assert stale.status_code == 503
    assert stale.json()["checks"]["worker"].startswith("failed: the last worker heartbeat is")


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
