"""The risk engine through the official ``stripe`` package, unmodified, against a running
SmartPay: a block-list match is a ``CardError`` with ``decline_code="fraudulent"``, and a
payment held for review waits in ``requires_capture`` until the review is approved.

Rules and lists are SmartPay's own API (``/v1/risk/...``, not Stripe's): they are set up
with plain HTTP; everything a Stripe integration does goes through the SDK.
"""

from __future__ import annotations

import httpx
import pytest
import stripe

from tests.card_scan import card_data_in_text
from tests.e2e.conftest import LiveServer

pytestmark = pytest.mark.slow


def _client(live: LiveServer) -> stripe.StripeClient:
    return stripe.StripeClient(
        live.secret_key, base_addresses={"api": live.server.base_url}, max_network_retries=0
    )


def _smartpay_post(live: LiveServer, path: str, data: dict[str, str]) -> dict[str, object]:
    response = httpx.post(
        f"{live.server.base_url}{path}",
        data=data,
        headers={"Authorization": f"Bearer {live.secret_key}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def _card_method(client: stripe.StripeClient) -> stripe.PaymentMethod:
    return client.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2031, "cvc": "314"},
        }
    )


def test_a_block_listed_card_is_a_fraudulent_card_error(live_server: LiveServer) -> None:
    client = _client(live_server)
    method = _card_method(client)
    assert method.card is not None and method.card.fingerprint
    _smartpay_post(
        live_server,
        "/v1/risk/lists",
        {"kind": "card_fingerprint", "value": method.card.fingerprint, "action": "block"},
    )
    with pytest.raises(stripe.CardError) as raised:
        client.v1.payment_intents.create(
            params={
                "amount": 4200,
                "currency": "usd",
                "payment_method": method.id,
                "confirm": True,
            }
        )
    error = raised.value
    assert error.code == "card_declined"
    assert error.error is not None
    assert error.error.decline_code == "fraudulent"
    assert error.error.charge
    intent = error.error.payment_intent
    assert intent is not None and intent.status == "requires_payment_method"

    charge = client.v1.charges.retrieve(error.error.charge)
    assert charge.status == "failed"
    assert charge.outcome is not None
    assert charge.outcome.type == "blocked"
    assert charge.outcome.network_status == "not_sent_to_network"
    assert charge.outcome.risk_level == "highest"
    assert charge.outcome.risk_score is not None and 0 <= charge.outcome.risk_score <= 100
    retrieved = client.v1.payment_intents.retrieve(intent.id)
    assert retrieved.status == "requires_payment_method"
    assert retrieved.last_payment_error is not None
    assert retrieved.last_payment_error.decline_code == "fraudulent"
    assert not card_data_in_text(live_server.server.log_text())


def test_a_payment_held_for_review_captures_once_approved(live_server: LiveServer) -> None:
    client = _client(live_server)
    _smartpay_post(
        live_server,
        "/v1/risk/rules",
        {
            "action": "review",
            "description": "review larger payments in usd",
            "conditions[0][fact]": "amount",
            "conditions[0][operator]": "gte",
            "conditions[0][value]": "10000",
            "conditions[1][fact]": "currency",
            "conditions[1][operator]": "eq",
            "conditions[1][value]": "usd",
        },
    )
    small = client.v1.payment_intents.create(
        params={
            "amount": 500,
            "currency": "usd",
            "payment_method": _card_method(client).id,
            "confirm": True,
        }
    )
    assert small.status == "succeeded"

    intent = client.v1.payment_intents.create(
        params={
            "amount": 25000,
            "currency": "usd",
            "payment_method": _card_method(client).id,
            "confirm": True,
        }
    )
    assert intent.status == "requires_capture"
    assert intent.amount_capturable == 25000
    review_id = intent.review
    assert isinstance(review_id, str) and review_id
    charge = client.v1.charges.retrieve(str(intent.latest_charge))
    assert charge.outcome is not None and charge.outcome.risk_level == "elevated"
    assert charge.outcome.risk_score is not None
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_intents.capture(intent.id)
    assert client.v1.payment_intents.retrieve(intent.id).status == "requires_capture"

    review = client.v1.reviews.approve(review_id)
    assert review.id == review_id
    assert client.v1.reviews.retrieve(review_id).id == review_id
    after = client.v1.payment_intents.retrieve(intent.id)
    assert after.status == "succeeded"
    assert after.amount_received == 25000
    assert not card_data_in_text(live_server.server.log_text())
