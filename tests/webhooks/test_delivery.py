"""Delivery to a real local receiver that verifies every request with the official
stripe SDK; failures, backoff, dead-lettering, disabling, and secret rotation, with the
clock advanced instead of slept through."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
import stripe

from smartpay.kit.db import Database
from smartpay.webhooks.models import webhook_deliveries
from smartpay.webhooks.tasks import BACKOFF_CAP_SECONDS
from tests.card_scan import card_data_in_text
from tests.conftest import Api
from tests.webhooks.helpers import (
    Clock,
    closed_port,
    create_endpoint,
    deliveries,
    dispatcher,
    raise_events,
    running_receiver,
)

# The send timeout is short so that the "slow" receiver (it answers after 2 s) times out
# quickly, yet long enough that a pause of the loop (a full garbage collection late in the
# suite) cannot time out the deliveries that should succeed: at 0.3 s, every send of
# test_a_real_payment_reaches_the_receiver... sometimes timed out in a full run.
pytestmark = pytest.mark.settings(webhook_allow_loopback=True, webhook_timeout_seconds=1.0)

HOUR = 3600


async def _next_due(database: Database) -> int:
    async with database.transaction() as session:
        query = sa.select(sa.func.min(webhook_deliveries.c.next_attempt_at)).where(
            webhook_deliveries.c.status == "pending"
        )
        return int((await session.execute(query)).scalar_one())


async def test_delivers_signed_events_the_stripe_sdk_verifies(api: Api, database: Database) -> None:
    clock = Clock()
    async with running_receiver() as receiver:
        endpoint = await create_endpoint(api, receiver.url, ("customer.created",))
        receiver.secret = endpoint["secret"]
        wanted = await raise_events(database, api.keys.merchant_id, 3)
        await raise_events(database, api.keys.merchant_id, 2, "customer.deleted")  # not enabled
        await raise_events(database, api.other.merchant_id, 2)  # another merchant's
        async with dispatcher(api.app, clock) as worker:
            summary = await worker.run_round()
            assert summary["webhook_events_fanned_out"] == 7
            assert summary["webhooks_delivered"] == 3
            assert (await worker.run_round())["webhooks_attempted"] == 0  # nothing twice
    assert receiver.rejected == 0
    assert sorted(receiver.verified) == sorted(wanted)
    first = receiver.received[0]
    assert first.signature.startswith("t=") and first.signature.count("v1=") == 1
    assert stripe.Webhook.construct_event(first.payload, first.signature, endpoint["secret"])

    [delivery] = await deliveries(api, wanted[0])
    assert delivery["status"] == "delivered"
    assert delivery["webhook_endpoint"] == endpoint["id"]
    assert delivery["attempt_count"] == 1
    [attempt] = delivery["attempts"]
    assert attempt["status_code"] == 200
    assert attempt["error"] is None
    assert attempt["latency_ms"] >= 0
    assert attempt["response_body"] == '{"received": true}'


async def test_failures_are_retried_on_the_backoff_schedule_until_delivered(
    api: Api, database: Database
) -> None:
    clock = Clock()
    async with running_receiver() as receiver:
        endpoint = await create_endpoint(api, receiver.url)
        receiver.secret = endpoint["secret"]
        [event_id] = await raise_events(database, api.keys.merchant_id, 1)
        async with dispatcher(api.app, clock) as worker:
            # 1. The receiver answers 500.
            receiver.mode = "error"
            assert (await worker.run_round())["webhooks_retrying"] == 1
            due = await _next_due(database)
            assert clock() < due <= clock() + 30  # first retry within the 30 s base
            assert (await worker.run_round())["webhooks_attempted"] == 0  # not due yet
            # 2. The receiver times out.
            receiver.mode = "slow"
            clock.value = due
            assert (await worker.run_round())["webhooks_retrying"] == 1
            # 3. Nothing listens on the endpoint's port.
            moved = await api.post(
                f"/v1/webhook_endpoints/{endpoint['id']}",
                {"url": f"http://127.0.0.1:{closed_port()}/hook"},
            )
            assert moved.status_code == 200
            clock.value = await _next_due(database)
            assert (await worker.run_round())["webhooks_retrying"] == 1
            # 4. Back up: the next due attempt delivers it.
            await api.post(f"/v1/webhook_endpoints/{endpoint['id']}", {"url": receiver.url})
            receiver.mode = "ok"
            assert (await worker.run_round())["webhooks_attempted"] == 0
            clock.value = await _next_due(database)
            assert (await worker.run_round())["webhooks_delivered"] == 1
    assert receiver.verified[event_id] == 1
    [delivery] = await deliveries(api, event_id)
    assert delivery["status"] == "delivered"
    errors = [a["error"] for a in delivery["attempts"]]
    assert errors[0] == "the endpoint answered HTTP 500"
    assert delivery["attempts"][0]["status_code"] == 500
    assert len(delivery["attempts"][0]["response_body"]) == 500  # first 500 bytes only
    assert errors[1] == "timed out after 1 s"
    assert errors[2] is not None and "ConnectError" in errors[2]
    assert errors[3] is None
    # Backoff grows: each wait is drawn from a range twice the previous one's.
    times = [a["attempted_at"] for a in delivery["attempts"]]
    assert times == sorted(times)


async def test_dead_letter_after_three_days_disables_the_endpoint(
    api: Api, database: Database
) -> None:
    clock = Clock()
    start = clock()
    async with running_receiver() as failing, running_receiver() as healthy:
        broken = await create_endpoint(api, failing.url)
        watcher = await create_endpoint(api, healthy.url, ("webhook_endpoint.disabled",))
        healthy.secret = watcher["secret"]
        failing.mode = "error"
        [event_id] = await raise_events(database, api.keys.merchant_id, 1)
        async with dispatcher(api.app, clock) as worker:
            summary = await worker.run_round()
            rounds = 1
            while summary["webhooks_dead_lettered"] == 0:
                clock.advance(BACKOFF_CAP_SECONDS)
                summary = await worker.run_round()
                rounds += 1
                assert rounds < 100
            assert summary["webhook_endpoints_disabled"] == 1
            assert clock() - start >= 72 * HOUR
            assert clock() - start < 72 * HOUR + BACKOFF_CAP_SECONDS
            # The disabled notice goes to the other endpoint, never to the disabled one.
            await worker.run_round()
            await worker.run_round()
    [delivery] = await deliveries(api, event_id)
    assert delivery["status"] == "failed"
    assert delivery["last_error"].startswith(f"gave up after {delivery['attempt_count']} attempts")
    assert delivery["attempt_count"] > 5
    assert (await api.get(f"/v1/webhook_endpoints/{broken['id']}")).json()["status"] == "disabled"
    listed = (await api.get("/v1/events", params={"type": "webhook_endpoint.disabled"})).json()
    [notice] = listed["data"]
    assert notice["data"]["object"]["id"] == broken["id"]
    assert notice["data"]["object"]["status"] == "disabled"
    assert notice["data"]["previous_attributes"] == {"status": "enabled"}
    assert healthy.verified[notice["id"]] == 1
    assert len(failing.received) == delivery["attempt_count"]


async def test_rotation_signs_with_both_secrets_during_the_overlap_only(
    api: Api, database: Database
) -> None:
    clock = Clock()
    async with running_receiver() as receiver:
        endpoint = await create_endpoint(api, receiver.url)
        old = endpoint["secret"]
        rotated = await api.post(f"/v1/webhook_endpoints/{endpoint['id']}/rotate_secret")
        new = rotated.json()["secret"]
        receiver.secret = new
        async with dispatcher(api.app, clock) as worker:
            await raise_events(database, api.keys.merchant_id, 1)
            await worker.run_round()
            during = receiver.received[-1]
            assert during.signature.count("v1=") == 2
            assert stripe.Webhook.construct_event(during.payload, during.signature, old)
            assert stripe.Webhook.construct_event(during.payload, during.signature, new)

            clock.advance(24 * HOUR + 1)  # SMARTPAY_WEBHOOK_SECRET_OVERLAP_HOURS default
            await raise_events(database, api.keys.merchant_id, 1)
            await worker.run_round()
            after = receiver.received[-1]
    assert after.signature.count("v1=") == 1
    assert stripe.Webhook.construct_event(after.payload, after.signature, new)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(after.payload, after.signature, old)
    assert receiver.rejected == 0


async def test_retry_endpoint_resends_now(api: Api, database: Database) -> None:
    clock = Clock()
    async with running_receiver() as receiver:
        endpoint = await create_endpoint(api, receiver.url)
        receiver.secret = endpoint["secret"]
        [event_id] = await raise_events(database, api.keys.merchant_id, 1)
        async with dispatcher(api.app, clock) as worker:
            receiver.mode = "error"
            await worker.run_round()
            receiver.mode = "ok"
            assert (await worker.run_round())["webhooks_attempted"] == 0
            response = await api.post(f"/v1/events/{event_id}/retry")
            assert response.status_code == 200, response.text
            assert response.json()["data"][0]["status"] == "pending"
            clock.advance(1)
            assert (await worker.run_round())["webhooks_delivered"] == 1
            # A delivered event can be re-sent too (the receiver dedupes by event id).
            await api.post(f"/v1/events/{event_id}/retry")
            clock.advance(1)
            assert (await worker.run_round())["webhooks_delivered"] == 1
    assert receiver.verified[event_id] == 2


async def test_endpoint_created_later_gets_only_later_events(api: Api, database: Database) -> None:
    clock = Clock()
    async with running_receiver() as receiver:
        [early] = await raise_events(database, api.keys.merchant_id, 1)
        async with dispatcher(api.app, clock) as worker:
            await worker.run_round()
            endpoint = await create_endpoint(api, receiver.url)
            receiver.secret = endpoint["secret"]
            [late] = await raise_events(database, api.keys.merchant_id, 1)
            await worker.run_round()
    assert set(receiver.verified) == {late}
    assert early not in receiver.verified


async def test_a_real_payment_reaches_the_receiver_signed_and_without_card_data(
    api: Api, database: Database
) -> None:
    """The payment path only writes the outbox; the worker delivers what it wrote. The
    delivered bodies carry the card's brand and last4, never its number or CVC."""
    clock = Clock()
    async with running_receiver() as receiver:
        endpoint = await create_endpoint(api, receiver.url)
        receiver.secret = endpoint["secret"]
        method = await api.post(
            "/v1/payment_methods",
            {
                "type": "card",
                "card[number]": "4242424242424242",
                "card[exp_month]": "12",
                "card[exp_year]": "2031",
                "card[cvc]": "737",
            },
        )
        assert method.status_code == 200, method.text
        intent = await api.post(
            "/v1/payment_intents",
            {
                "amount": "2000",
                "currency": "usd",
                "payment_method": method.json()["id"],
                "confirm": "true",
            },
        )
        assert intent.status_code == 200, intent.text
        async with dispatcher(api.app, clock) as worker:
            await worker.run_round()
    assert receiver.rejected == 0
    received = [
        stripe.Webhook.construct_event(d.payload, d.signature, endpoint["secret"])
        for d in receiver.received
    ]
    types = {event.type for event in received}
    assert {
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.succeeded",
    } <= types, types
    succeeded = next(e for e in received if e.type == "payment_intent.succeeded")
    assert succeeded.data.object.id == intent.json()["id"]
    for delivery in receiver.received:
        assert card_data_in_text(delivery.payload.decode()) == []
        assert "737" not in _leaf_values(json.loads(delivery.payload))  # the CVC never travels


def _leaf_values(value: object) -> set[str]:
    """Every scalar in a JSON document, as text."""
    if isinstance(value, dict):
        return set().union(*(_leaf_values(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_leaf_values(v) for v in value))
    return {str(value)}
