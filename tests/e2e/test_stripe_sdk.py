"""The official ``stripe`` package, unmodified, against a running SmartPay."""

from __future__ import annotations

import asyncio

import pytest
import stripe

from smartpay.kit.db import Database
from tests.api.helpers import DECLINE_CARDS
from tests.card_scan import card_data_in_database, card_data_in_text
from tests.e2e.conftest import LiveServer

pytestmark = pytest.mark.slow

DISTINCT_CVCS = ("731", "846", "509")


def _client(live: LiveServer) -> stripe.StripeClient:
    return stripe.StripeClient(
        live.secret_key, base_addresses={"api": live.server.base_url}, max_network_retries=0
    )


def _card(number: str, cvc: str = "731") -> dict[str, object]:
    return {"number": number, "exp_month": 12, "exp_year": 2031, "cvc": cvc}


def test_full_payment_journey_with_the_stripe_sdk(
    live_server: LiveServer, database_url: str
) -> None:
    client = _client(live_server)
    customer = client.v1.customers.create(params={"email": "jenny@example.com", "name": "Jenny"})
    assert customer.id.startswith("cus_")
    method = client.v1.payment_methods.create(
        params={"type": "card", "card": _card("4242424242424242")}
    )
    assert method.card is not None and method.card.last4 == "4242"
    client.v1.payment_methods.attach(method.id, params={"customer": customer.id})

    intent = client.v1.payment_intents.create(
        params={
            "amount": 5000,
            "currency": "usd",
            "customer": customer.id,
            "payment_method": method.id,
            "confirm": True,
            "capture_method": "manual",
        },
        options={"idempotency_key": "sdk-order-1"},
    )
    assert intent.status == "requires_capture" and intent.amount_capturable == 5000
    replay = client.v1.payment_intents.create(
        params={
            "amount": 5000,
            "currency": "usd",
            "customer": customer.id,
            "payment_method": method.id,
            "confirm": True,
            "capture_method": "manual",
        },
        options={"idempotency_key": "sdk-order-1"},
    )
    assert replay.id == intent.id

    captured = client.v1.payment_intents.capture(intent.id, params={"amount_to_capture": 3500})
    assert captured.status == "succeeded" and captured.amount_received == 3500
    refund = client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 1000})
    assert refund.status == "succeeded" and refund.amount == 1000
    charge = client.v1.charges.retrieve(str(captured.latest_charge))
    assert charge.amount_refunded == 1000

    for _ in range(4):
        client.v1.payment_intents.create(params={"amount": 100, "currency": "usd"})
    page = client.v1.payment_intents.list(params={"limit": 2})
    assert len(page.data) == 2 and page.has_more
    every = list(client.v1.payment_intents.list(params={"limit": 2}).auto_paging_iter())
    assert len(every) == 5 and len({pi.id for pi in every}) == 5

    balance = client.v1.balance.retrieve()
    # 3500 captured less the 2.9% + 30 fee (132) is pending; the refund left at once.
    assert [(b.amount, b.currency) for b in balance.pending] == [(3368, "usd")]
    assert [(b.amount, b.currency) for b in balance.available] == [(-1000, "usd")]

    events = client.v1.events.list(params={"limit": 100})
    assert any(e.type == "charge.refunded" for e in events.data)

    leaks = asyncio.run(_scan(database_url, DISTINCT_CVCS))
    assert leaks == []
    assert card_data_in_text(live_server.server.log_text()) == []


async def _scan(database_url: str, cvcs: tuple[str, ...]) -> list[str]:
    database = Database(database_url)
    try:
        found = await card_data_in_database(database)
        found += [f for f in await card_data_in_database(database, [f'"cvc": "{c}"' for c in cvcs])]
        return found
    finally:
        await database.dispose()


@pytest.mark.parametrize(("number", "expected"), list(DECLINE_CARDS.items()))
def test_declines_raise_card_error_with_decline_code(
    live_server: LiveServer, number: str, expected: tuple[str, str]
) -> None:
    client = _client(live_server)
    method = client.v1.payment_methods.create(params={"type": "card", "card": _card(number, "846")})
    with pytest.raises(stripe.CardError) as info:
        client.v1.payment_intents.create(
            params={"amount": 1999, "currency": "usd", "payment_method": method.id, "confirm": True}
        )
    assert info.value.code == expected[0]
    assert info.value.error is not None and info.value.error.decline_code == expected[1]
    assert card_data_in_text(live_server.server.log_text()) == []


def test_publishable_key_via_sdk(live_server: LiveServer) -> None:
    client = stripe.StripeClient(
        live_server.publishable_key,
        base_addresses={"api": live_server.server.base_url},
        max_network_retries=0,
    )
    method = client.v1.payment_methods.create(
        params={"type": "card", "card": _card("5555555555554444", "509")}
    )
    assert method.card is not None and method.card.brand == "mastercard"
    with pytest.raises(stripe.PermissionError):
        client.v1.customers.list()
    with pytest.raises(stripe.AuthenticationError):
        stripe.StripeClient(
            "sk_test_wrong", base_addresses={"api": live_server.server.base_url}
        ).v1.customers.list()
