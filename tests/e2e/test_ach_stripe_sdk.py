"""ACH Direct Debit through the official ``stripe`` package, unmodified, against a running
SmartPay: a us_bank_account PaymentIntent is ``processing`` until the debit settles.

The batch cycle is started with ``smartpay ach cycle`` (the worker would wait for the
next cut-off); the server's own worker then runs the sandbox bank, the returns inbox and
settlement, with the simulated delays set to a second.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import stripe

from tests.e2e.conftest import LiveServer, create_merchant_with_cli
from tests.e2e.server import running_server, server_env, smartpay

pytestmark = pytest.mark.slow

# How long the worker may take to settle or return the debit: several worker rounds
# (SMARTPAY_JANITOR_INTERVAL_SECONDS below) on a machine shared with other tests.
SETTLE_DEADLINE_SECONDS = 120


@pytest.fixture
def ach_server(tmp_path: Path, database_url: str) -> Iterator[LiveServer]:
    env = server_env(
        tmp_path / "data",
        database_url,
        SMARTPAY_ACH_SETTLEMENT_DELAY_SECONDS="3",
        SMARTPAY_ACH_SANDBOX_RETURN_DELAY_SECONDS="1",
        SMARTPAY_JANITOR_INTERVAL_SECONDS="0.5",
    )
    migrated = smartpay(env, "migrate")
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    secret, publishable = create_merchant_with_cli(env, "E2E ACH merchant")
    with running_server(env, tmp_path / "server.log") as server:
        yield LiveServer(server, env, secret, publishable)


def _bank_account(client: stripe.StripeClient, account_number: str) -> str:
    # Plain dicts: SmartPay's parameters go beyond the SDK's TypedDicts (mandate_data on
    # the payment method; payment_method_types is missing from this SDK version's).
    method = client.v1.payment_methods.create(
        params=cast(
            Any,
            {
                "type": "us_bank_account",
                "us_bank_account": {
                    "routing_number": "110000000",
                    "account_number": account_number,
                    "account_type": "checking",
                    "account_holder_type": "individual",
                },
                "billing_details": {"name": "Jenny Rosen"},
                # SmartPay records the ACH authorization with the payment method.
                "mandate_data": {"text": "I authorize E2E ACH merchant to debit my account."},
            },
        )
    )
    assert (
        method.us_bank_account is not None and method.us_bank_account.last4 == account_number[-4:]
    )
    return method.id


def _wait_for_status(
    client: stripe.StripeClient, intent_id: str, wanted: str
) -> stripe.PaymentIntent:
    deadline = time.monotonic() + SETTLE_DEADLINE_SECONDS
    while True:
        intent = client.v1.payment_intents.retrieve(intent_id)
        if intent.status == wanted or time.monotonic() > deadline:
            return intent
        time.sleep(0.5)


def test_ach_payment_intents_with_the_stripe_sdk(ach_server: LiveServer) -> None:
    client = stripe.StripeClient(
        ach_server.secret_key,
        base_addresses={"api": ach_server.server.base_url},
        max_network_retries=0,
    )
    paid = client.v1.payment_intents.create(
        params=cast(
            Any,
            {
                "amount": 4200,
                "currency": "usd",
                "payment_method_types": ["us_bank_account"],
                "payment_method": _bank_account(client, "000123456789"),
                "confirm": True,
            },
        ),
        options={"idempotency_key": "sdk-ach-1"},
    )
    assert paid.status == "processing" and paid.payment_method_types == ["us_bank_account"]
    returned = client.v1.payment_intents.create(
        params=cast(
            Any,
            {
                "amount": 1500,
                "currency": "usd",
                "payment_method_types": ["us_bank_account"],
                "payment_method": _bank_account(client, "000111111113"),  # returned R02
                "confirm": True,
            },
        )
    )
    assert returned.status == "processing"
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.payment_intents.create(
            params=cast(
                Any,
                {
                    "amount": 1500,
                    "currency": "usd",
                    "payment_method_types": ["us_bank_account"],
                    "payment_method": _bank_account(client, "000123456789"),
                    "confirm": True,
                    "capture_method": "manual",
                },
            )
        )
    assert refused.value.param == "capture_method"

    cycle = smartpay(ach_server.env, "ach", "cycle")
    assert cycle.returncode == 0, cycle.stdout + cycle.stderr
    assert "1 batches, 2 entries" in cycle.stdout

    succeeded = _wait_for_status(client, paid.id, "succeeded")
    assert succeeded.status == "succeeded", ach_server.server.log_text()[-3000:]
    assert succeeded.amount_received == 4200
    charge = client.v1.charges.retrieve(str(succeeded.latest_charge))
    assert charge.status == "succeeded" and charge.payment_method_details is not None
    assert charge.payment_method_details.type == "us_bank_account"

    failed = _wait_for_status(client, returned.id, "requires_payment_method")
    assert failed.status == "requires_payment_method"
    assert failed.last_payment_error is not None
    assert failed.last_payment_error.code == "account_closed"

    balance = client.v1.balance.retrieve()
    assert [(b.amount, b.currency) for b in balance.available] == [(4200, "usd")]
