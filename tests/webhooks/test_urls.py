"""SSRF: webhook URLs may not reach private, loopback, link-local or metadata addresses,
when saved and again at delivery (DNS rebinding)."""

from __future__ import annotations

import pytest

from smartpay.config import Settings
from smartpay.kit.db import Database
from smartpay.webhooks import urls
from tests.conftest import Api
from tests.webhooks.helpers import (
    Clock,
    create_endpoint,
    deliveries,
    dispatcher,
    raise_events,
    running_receiver,
)

REFUSED_ALWAYS = [
    "http://10.0.0.1/hook",
    "http://172.16.5.4/hook",
    "http://192.168.1.1/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.64.0.1/hook",
    "http://0.0.0.0/hook",
    "http://[fc00::1]/hook",
    "http://[fe80::1]/hook",
    "http://[::ffff:10.0.0.1]/hook",
]
LOOPBACK = ["http://127.0.0.1:8080/hook", "http://[::1]:8080/hook", "http://localhost:8080/hook"]


@pytest.mark.parametrize("url", REFUSED_ALWAYS + LOOPBACK)
async def test_internal_addresses_are_refused(api: Api, url: str) -> None:
    response = await api.post("/v1/webhook_endpoints", {"url": url, "enabled_events[0]": "*"})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == "url"
    assert "address" in error["message"]


@pytest.mark.settings(webhook_allow_loopback=True)
@pytest.mark.parametrize("url", REFUSED_ALWAYS)
async def test_allowing_loopback_allows_nothing_else(api: Api, url: str) -> None:
    response = await api.post("/v1/webhook_endpoints", {"url": url, "enabled_events[0]": "*"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "url"


@pytest.mark.settings(webhook_allow_loopback=True)
@pytest.mark.parametrize("url", LOOPBACK)
async def test_loopback_allowed_when_set(api: Api, url: str) -> None:
    await create_endpoint(api, url)


@pytest.mark.settings(webhook_allow_http=False)
async def test_https_required_unless_http_allowed(api: Api) -> None:
    response = await api.post(
        "/v1/webhook_endpoints", {"url": "http://example.com/hook", "enabled_events[0]": "*"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "url"
    assert "https" in response.json()["error"]["message"]


async def test_hostnames_are_checked_by_what_they_resolve_to() -> None:
    settings = Settings(webhook_allow_loopback=False)

    async def resolver(host: str, port: int) -> list[str]:
        return {"public.test": ["93.184.216.34"], "sneaky.test": ["93.184.216.34", "10.1.2.3"]}[
            host
        ]

    target = await urls.check("https://public.test/hook", settings, resolver)
    assert target.address == "93.184.216.34" and target.host == "public.test"
    with pytest.raises(urls.UnsafeUrl, match=r"sneaky\.test resolves to 10\.1\.2\.3"):
        await urls.check("https://sneaky.test/hook", settings, resolver)


@pytest.mark.settings(webhook_allow_loopback=True)
async def test_rebinding_is_caught_at_delivery_and_the_checked_address_is_used(
    api: Api, database: Database
) -> None:
    clock = Clock()
    answers = {"rebind.invalid": ["10.0.0.7"]}

    async def resolver(host: str, port: int) -> list[str]:
        return answers[host]

    async with running_receiver() as receiver:
        # The name did not resolve when saved (accepted, checked again at delivery).
        endpoint = await create_endpoint(api, f"http://rebind.invalid:{receiver.port}/hook")
        receiver.secret = endpoint["secret"]
        [event_id] = await raise_events(database, api.keys.merchant_id, 1)
        async with dispatcher(api.app, clock, resolver=resolver) as worker:
            assert (await worker.run_round())["webhooks_retrying"] == 1
            [delivery] = await deliveries(api, event_id)
            assert "rebind.invalid resolves to 10.0.0.7" in delivery["attempts"][0]["error"]
            assert receiver.received == []
            # Now it resolves to an allowed address: the request goes to that address,
            # with the name kept in the Host header.
            answers["rebind.invalid"] = ["127.0.0.1"]
            clock.advance(3600)
            assert (await worker.run_round())["webhooks_delivered"] == 1
    assert receiver.received[0].host == f"rebind.invalid:{receiver.port}"
    assert receiver.verified[event_id] == 1
