"""A payment page's timeline: a cascade across two processors, a refund and the webhook
deliveries of its events, each item in the order it happened, and nothing of another
merchant's."""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from smartpay.dashboard import timeline
from smartpay.dashboard.service import create_user
from smartpay.kit.db import Database
from smartpay.kit.ids import id_at, id_time, new_id
from smartpay.payments import repository as payments_repository
from tests.api.helpers import pay
from tests.card_scan import card_data_in_text
from tests.conftest import Api
from tests.webhooks.helpers import Clock, create_endpoint, dispatcher, running_receiver

PASSWORD = "correct horse battery"
# The first processor soft-declines every payment with a retryable code, so the
# confirmation cascades to the second (as in tests/routing/test_cascade.py).
SOFT_THEN_GOOD = json.dumps(
    {"soft": {"approval_rate": 0.0, "retryable_decline_share": 1.0}, "good": {}}
)
ITEM = re.compile(r'<li class="(\w+)" id="\w+-(\w+)">')

pytestmark = pytest.mark.settings(
    processors="soft,good", sandbox_profiles=SOFT_THEN_GOOD, webhook_allow_loopback=True
)


@asynccontextmanager
async def _browser(api: Api, database: Database) -> AsyncIterator[httpx.AsyncClient]:
    email = "timeline@example.com"
    async with database.transaction() as session:
        await create_user(session, api.keys.merchant_id, email, PASSWORD)
    transport = httpx.ASGITransport(app=api.app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.post(
            "/dashboard/login", data={"email": email, "password": PASSWORD}
        )
        assert response.status_code == 303, response.text
        yield client


async def _priority(api: Api, key: str | None = None) -> None:
    response = await api.client.post(
        "/v1/routing/config",
        json={"strategy": "priority", "processors": ["soft", "good"]},
        headers=api.auth(key),
    )
    assert response.status_code == 200, response.text


async def _events_by_type(api: Api, object_ids: set[str]) -> dict[str, str]:
    listed = (await api.get("/v1/events", params={"limit": "100"})).json()["data"]
    return {e["type"]: e["id"] for e in listed if e["data"]["object"]["id"] in object_ids}


async def _cascaded_and_refunded_payment(api: Api) -> tuple[dict[str, Any], dict[str, Any]]:
    await _priority(api)
    intent = (await pay(api, amount=2000)).json()
    assert intent["status"] == "succeeded", intent
    refund = await api.post("/v1/refunds", {"payment_intent": intent["id"], "amount": "500"})
    assert refund.status_code == 200, refund.text
    return intent, refund.json()


def _section(page: str) -> str:
    return page.split("<h2>Timeline</h2>", 1)[1]


async def test_the_timeline_tells_a_cascade_a_refund_and_its_webhooks_in_order(
    api: Api, database: Database
) -> None:
    async with running_receiver() as receiver:
        endpoint = await create_endpoint(api, receiver.url)
        receiver.secret = endpoint["secret"]
        intent, refund = await _cascaded_and_refunded_payment(api)
        async with dispatcher(api.app, Clock()) as worker:
            assert (await worker.run_round())["webhooks_delivered"] == 6
    charge = (await api.get(f"/v1/charges/{intent['latest_charge']}")).json()
    soft, good = (step["attempt"] for step in intent["routing"]["attempts"])
    events = await _events_by_type(api, {intent["id"], charge["id"], refund["id"]})
    deliveries = {
        name: (await api.get(f"/v1/events/{event_id}/deliveries")).json()["data"][0]["id"]
        for name, event_id in events.items()
    }

    async with _browser(api, database) as browser:
        page = await browser.get(f"/dashboard/payments/{intent['id']}")
    assert page.status_code == 200
    items = ITEM.findall(_section(page.text))
    event_order = [
        "payment_intent.created",
        "charge.succeeded",
        "charge.captured",
        "payment_intent.succeeded",
        "charge.refunded",
        "refund.created",
    ]
    assert items == [
        ("event", events["payment_intent.created"]),
        ("risk", intent["id"]),
        ("routing", intent["id"]),
        ("attempt", soft),
        ("attempt", good),
        ("ledger", charge["balance_transaction"]),
        ("event", events["charge.succeeded"]),
        ("event", events["charge.captured"]),
        ("event", events["payment_intent.succeeded"]),
        ("attempt", refund["id"]),  # a refund's attempt carries the refund's id
        ("ledger", refund["balance_transaction"]),
        ("event", events["charge.refunded"]),
        ("event", events["refund.created"]),
        # Fanned out by the worker after everything above was committed.
        *(("webhook", deliveries[name]) for name in event_order),
    ]

    def item(kind: str, subject: str) -> str:
        text = _section(page.text).split(f'id="{kind}-{subject}"', 1)[1]
        return text.split("</li>", 1)[0]

    declined = item("attempt", soft)
    assert "Authorize at soft: declined" in declined and "try_again_later" in declined
    assert "<dt>Routing position</dt><dd>0</dd>" in declined
    assert "<dt>Routing method</dt><dd>priority</dd>" in declined
    assert "<dt>Breaker</dt><dd>closed" in declined
    approved = item("attempt", good)
    assert "Authorize at good: succeeded" in approved
    assert "<dt>Routing position</dt><dd>1</dd>" in approved
    routing = item("routing", intent["id"])
    assert "soft → good" in routing and "<dt>Breaker soft</dt>" in routing
    risk = item("risk", intent["id"])
    assert f"<strong>{intent['risk']['score']}</strong> / 1000" in risk
    capture = item("ledger", charge["balance_transaction"])
    assert "Ledger entry: capture" in capture
    assert '<td>processor_receivable</td><td class="num">20.00 USD</td>' in capture
    refunded = item("ledger", refund["balance_transaction"])
    assert "Ledger entry: refund" in refunded and "5.00 USD" in refunded
    hook = item("webhook", deliveries["refund.created"])
    assert receiver.url in hook and endpoint["id"] in hook
    assert "<dt>Status</dt><dd>delivered</dd>" in hook
    assert "<dt>Attempts</dt><dd>1</dd>" in hook and "<dt>Last response</dt><dd>200</dd>" in hook
    assert card_data_in_text(page.text) == []


async def test_another_merchants_payment_and_events_never_show(
    api: Api, database: Database
) -> None:
    mine, _ = await _cascaded_and_refunded_payment(api)
    await _priority(api, api.other.secret_key)
    theirs = (await pay(api, 900, key=api.other.secret_key)).json()
    their_events = [
        e["id"] for e in (await api.get("/v1/events", key=api.other.secret_key)).json()["data"]
    ]
    assert their_events
    async with _browser(api, database) as browser:
        other_page = await browser.get(f"/dashboard/payments/{theirs['id']}")
        my_page = await browser.get(f"/dashboard/payments/{mine['id']}")
    assert other_page.status_code == 404
    assert theirs["id"] not in other_page.text.replace(f"<code>{theirs['id']}</code>", "")
    assert my_page.status_code == 200
    assert all(event_id not in my_page.text for event_id in their_events)
    assert theirs["id"] not in my_page.text

    # Every query of the timeline filters by merchant: asked as this merchant about the
    # other's payment, the attempts, ledger, events and deliveries all come back empty.
    async with database.transaction() as session:
        their_row = await payments_repository.get_intent(
            session, api.other.merchant_id, theirs["id"]
        )
        assert their_row is not None
        items = await timeline.load(
            session, api.keys.merchant_id, their_row, [theirs["latest_charge"]]
        )
    assert {item.kind for item in items} <= {timeline.Kind.RISK, timeline.Kind.ROUTING}


def test_an_id_tells_when_it_was_made() -> None:
    assert id_time(id_at("evt", 1_800_000_000.25), 0.0) == pytest.approx(1_800_000_000.25)
    assert abs(id_time(new_id("txn"), 0.0) - time.time()) < 60
    assert id_time("legacy", 7.0) == 7.0
    assert id_time("evt_" + "Z" * 24, 7.0) == 7.0
