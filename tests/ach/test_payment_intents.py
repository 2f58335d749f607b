"""PaymentIntents paid by ACH debit: ``payment_method_types[]=us_bank_account`` with a
us_bank_account payment method confirms into a debit; the intent is ``processing`` until
the debit settles (``succeeded``) or comes back (``requires_payment_method``)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from smartpay.ach import batching
from smartpay.ach.models import ach_transfers
from smartpay.kit.db import Database
from tests.ach.test_ach_flow import TUESDAY_9AM, bank_method, run_bank_round
from tests.conftest import Api


async def ach_intent(api: Api, method: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
    response = await api.post(
        "/v1/payment_intents",
        {
            "amount": "5000",
            "currency": "usd",
            "payment_method_types[]": "us_bank_account",
            "payment_method": method["id"],
            "confirm": "true",
        },
        headers={"Idempotency-Key": idempotency_key},
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def event_types(api: Api) -> list[str]:
    events = (await api.get("/v1/events", params={"limit": "100"})).json()["data"]
    return [event["type"] for event in events]


async def test_confirm_is_processing_until_the_debit_settles(api: Api, database: Database) -> None:
    platform = api.app.state.platform  # type: ignore[attr-defined]
    settings = platform.settings
    method = await bank_method(api)
    intent = await ach_intent(api, method, "ach-order-1")
    assert intent["status"] == "processing"
    assert intent["payment_method_types"] == ["us_bank_account"]
    assert intent["amount_received"] == 0 and intent["last_payment_error"] is None
    charge = (await api.get(f"/v1/charges/{intent['latest_charge']}")).json()
    assert charge["status"] == "pending" and charge["paid"] is False
    details = charge["payment_method_details"]
    assert details["type"] == "us_bank_account"
    assert details["us_bank_account"]["last4"] == "6789"
    assert "000123456789" not in str(charge)
    # The same Idempotency-Key replays the answer and starts no second debit.
    assert (await ach_intent(api, method, "ach-order-1"))["id"] == intent["id"]
    async with database.engine.connect() as conn:
        debits = (
            await conn.execute(
                sa.select(ach_transfers).where(ach_transfers.c.payment_intent_id == intent["id"])
            )
        ).all()
    assert len(debits) == 1 and debits[0].charge_id == charge["id"]
    assert debits[0].amount == 5000 and debits[0].direction == "debit"
    shown = (await api.get(f"/v1/ach_debits/{debits[0].id}")).json()
    assert shown["payment_intent"] == intent["id"]
    # The debit pays the intent: it cannot be canceled on its own.
    refused = await api.post(f"/v1/ach_debits/{debits[0].id}/cancel")
    assert refused.status_code == 400 and "PaymentIntent" in refused.json()["error"]["message"]

    await batching.run_cycle(platform.database, settings, platform.vault, now=TUESDAY_9AM)
    await run_bank_round(api, TUESDAY_9AM + settings.ach_sandbox_return_delay_seconds + 60)
    still = (await api.get(f"/v1/payment_intents/{intent['id']}")).json()
    assert still["status"] == "processing"  # filed, no return, not settled yet
    await run_bank_round(api, TUESDAY_9AM + settings.ach_settlement_delay_seconds + 60)

    paid = (await api.get(f"/v1/payment_intents/{intent['id']}")).json()
    assert paid["status"] == "succeeded" and paid["amount_received"] == 5000
    charge = (await api.get(f"/v1/charges/{intent['latest_charge']}")).json()
    assert charge["status"] == "succeeded" and charge["captured"] is True
    assert charge["amount_captured"] == 5000
    balance = (await api.get("/v1/balance")).json()
    assert balance["available"] == [{"amount": 5000, "currency": "usd"}]
    types = await event_types(api)
    for name in (
        "payment_intent.created",
        "charge.pending",
        "payment_intent.processing",
        "ach_debit.initiated",
        "ach_debit.settled",
        "charge.succeeded",
        "payment_intent.succeeded",
    ):
        assert name in types, name
    assert "payment_intent.payment_failed" not in types
    # Costed once, as an ACH transfer (not also as a card charge).
    costs = (await api.get("/v1/reports/costs")).json()["data"][0]
    assert costs["ach"]["count"] == 1 and costs["card"]["count"] == 0
    # Refunds of ACH payments are refused cleanly, not sent to a card processor.
    refund = await api.post("/v1/refunds", {"payment_intent": intent["id"]})
    assert refund.status_code == 400, refund.text
    assert refund.json()["error"]["code"] == "charge_not_refundable"


async def test_a_return_sends_the_intent_back_to_requires_payment_method(api: Api) -> None:
    platform = api.app.state.platform  # type: ignore[attr-defined]
    settings = platform.settings
    poor = await bank_method(api, "000222222227")  # the sandbox bank returns it R01
    created = await api.post(
        "/v1/payment_intents",
        {"amount": "2500", "currency": "usd", "payment_method_types[]": "us_bank_account"},
    )
    assert created.json()["status"] == "requires_payment_method"
    intent_id = created.json()["id"]
    confirmed = await api.post(
        f"/v1/payment_intents/{intent_id}/confirm", {"payment_method": poor["id"]}
    )
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "processing"

    await batching.run_cycle(platform.database, settings, platform.vault, now=TUESDAY_9AM)
    await run_bank_round(api, TUESDAY_9AM + 60)  # the bank takes the file
    await run_bank_round(api, TUESDAY_9AM + settings.ach_sandbox_return_delay_seconds + 60)

    failed = (await api.get(f"/v1/payment_intents/{intent_id}")).json()
    assert failed["status"] == "requires_payment_method"
    error = failed["last_payment_error"]
    assert error["code"] == "insufficient_funds" and "R01" in error["message"]
    assert error["payment_method"]["id"] == poor["id"]
    charge = (await api.get(f"/v1/charges/{failed['latest_charge']}")).json()
    assert charge["status"] == "failed" and charge["failure_code"] == "insufficient_funds"
    available = (await api.get("/v1/balance")).json()["available"]
    assert sum(item["amount"] for item in available) == 0  # the reversal undid the debit
    types = await event_types(api)
    assert "payment_intent.payment_failed" in types and "charge.failed" in types
    assert "payment_intent.succeeded" not in types

    # Confirmed again with another account, it is a new debit and a new charge.
    good = await bank_method(api)
    retried = await api.post(
        f"/v1/payment_intents/{intent_id}/confirm", {"payment_method": good["id"]}
    )
    assert retried.status_code == 200, retried.text
    body = retried.json()
    assert body["status"] == "processing" and body["last_payment_error"] is None
    assert body["latest_charge"] != failed["latest_charge"]
    later = TUESDAY_9AM + 86_400
    await batching.run_cycle(platform.database, settings, platform.vault, now=later)
    await run_bank_round(api, later + settings.ach_settlement_delay_seconds + 60)
    assert (await api.get(f"/v1/payment_intents/{intent_id}")).json()["status"] == "succeeded"


async def test_what_an_ach_payment_intent_refuses(api: Api) -> None:
    method = await bank_method(api)
    card = (
        await api.post(
            "/v1/payment_methods",
            {
                "type": "card",
                "card[number]": "4242424242424242",
                "card[exp_month]": "12",
                "card[exp_year]": "2031",
                "card[cvc]": "123",
            },
        )
    ).json()
    base = {"amount": "1000", "confirm": "true", "payment_method_types[]": "us_bank_account"}

    async def refused(**params: str) -> dict[str, Any]:
        response = await api.post("/v1/payment_intents", {**base, **params})
        assert response.status_code == 400, response.text
        return response.json()["error"]  # type: ignore[no-any-return]

    manual = await refused(currency="usd", payment_method=method["id"], capture_method="manual")
    assert manual["param"] == "capture_method"
    euros = await refused(currency="eur", payment_method=method["id"])
    assert euros["param"] == "currency" and "usd" in euros["message"]
    wrong_type = await refused(currency="usd", payment_method=card["id"])
    assert wrong_type["code"] == "payment_intent_incompatible_payment_method"
    test_card = await refused(currency="usd", payment_method="pm_card_visa")
    assert test_card["code"] == "payment_intent_incompatible_payment_method"
    # Without us_bank_account in payment_method_types a bank account is refused.
    card_only = await api.post(
        "/v1/payment_intents",
        {"amount": "1000", "currency": "usd", "payment_method": method["id"], "confirm": "true"},
    )
    assert card_only.status_code == 400
    assert card_only.json()["error"]["code"] == "payment_intent_incompatible_payment_method"
    # Both types allowed: a card still pays by card.
    both = await api.post(
        "/v1/payment_intents",
        {
            "amount": "1000",
            "currency": "usd",
            "payment_method_types[0]": "card",
            "payment_method_types[1]": "us_bank_account",
            "payment_method": card["id"],
            "confirm": "true",
        },
    )
    assert both.status_code == 200, both.text
    assert both.json()["status"] == "succeeded"
    assert both.json()["payment_method_types"] == ["card", "us_bank_account"]
    # A bank account whose mandate ended cannot be debited through an intent either.
    other = await api.post(
        "/v1/payment_methods",
        {
            "type": "us_bank_account",
            "us_bank_account[routing_number]": "110000000",
            "us_bank_account[account_number]": "000123456789",
        },
    )
    assert other.status_code == 200, other.text
    no_mandate = await refused(currency="usd", payment_method=other.json()["id"])
    assert no_mandate["code"] == "mandate_invalid"
