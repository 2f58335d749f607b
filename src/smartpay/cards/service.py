"""Payment methods: validate the card, put it in the vault, keep the CVC only until the
first authorization, and show brand/last4/expiry/fingerprint — never the number."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa

from smartpay.cards import repository
from smartpay.cards.schemas import (
    PaymentMethodCreate,
    PaymentMethodList,
    PaymentMethodUpdate,
)
from smartpay.cards.validation import validate_card
from smartpay.customers import service as customers
from smartpay.errors import InvalidRequest, MissingParameter, ResourceMissing
from smartpay.kit.clock import now
from smartpay.kit.db import Session
from smartpay.kit.ids import new_id
from smartpay.kit.pagination import Page
from smartpay.kit.params import merge_metadata
from smartpay.vault.cvc import CvcStore
from smartpay.vault.service import Vault

# Stripe's test PaymentMethod ids (docs.stripe.com/testing), usable wherever a payment
# method id is expected: each use creates a fresh payment method from its test card, as
# Stripe does, so examples written against Stripe's test mode run here unchanged.
TEST_PAYMENT_METHOD_CARDS: dict[str, str] = {
    "pm_card_visa": "4242424242424242",
    "pm_card_visa_debit": "4000056655665556",
    "pm_card_mastercard": "5555555555554444",
    "pm_card_amex": "378282246310005",
    "pm_card_chargeDeclined": "4000000000000002",
    "pm_card_chargeDeclinedInsufficientFunds": "4000000000009995",
    "pm_card_chargeDeclinedLostCard": "4000000000009987",
    "pm_card_chargeDeclinedStolenCard": "4000000000009979",
    "pm_card_chargeDeclinedExpiredCard": "4000000000000069",
    "pm_card_chargeDeclinedIncorrectCvc": "4000000000000127",
    "pm_card_chargeDeclinedProcessingError": "4000000000000119",
    "pm_card_chargeDeclinedFraudulent": "4100000000000019",
    "pm_card_authenticationRequired": "4000002760003184",
}
# Test cards created from those ids expire this many years from now.
TEST_CARD_VALID_YEARS = 3


def cvc_key(payment_method_id: str) -> str:
    return f"cvc:{payment_method_id}"


async def create(
    session: Session,
    merchant_id: str,
    params: PaymentMethodCreate,
    *,
    vault: Vault,
    cvc_store: CvcStore,
    cvc_ttl_seconds: int,
) -> sa.Row[Any]:
    if params.type == "us_bank_account":
        from smartpay.ach import bank_accounts  # the ACH domain owns bank accounts

        if params.us_bank_account is None:
            raise MissingParameter(
                "Missing required param: us_bank_account.", param="us_bank_account"
            )
        if params.customer is not None:
            await customers.get(session, merchant_id, params.customer, param="customer")
        payment_method_id = await bank_accounts.create(session, merchant_id, params, vault=vault)
        return await get(session, merchant_id, payment_method_id)
    if params.card is None:
        raise MissingParameter("Missing required param: card.", param="card")
    card = validate_card(
        params.card.number, params.card.exp_month, params.card.exp_year, params.card.cvc
    )
    if params.customer is not None:
        await customers.get(session, merchant_id, params.customer, param="customer")
    billing = params.billing_details.model_dump() if params.billing_details else {}
    token = await vault.store_card(session, merchant_id, card, billing.get("name"))
    payment_method_id = new_id("pm")
    await repository.insert(
        session,
        id=payment_method_id,
        merchant_id=merchant_id,
        customer_id=params.customer,
        type="card",
        vault_token=token,
        brand=card.brand,
        last4=card.last4,
        exp_month=card.exp_month,
        exp_year=card.exp_year,
        funding=card.funding,
        fingerprint=vault.fingerprint(merchant_id, card.number),
        billing_details=billing,
        metadata=merge_metadata({}, params.metadata),
        created=now(),
    )
    if card.cvc:
        await cvc_store.put(cvc_key(payment_method_id), card.cvc, cvc_ttl_seconds)
    return await get(session, merchant_id, payment_method_id)


async def create_from_test_id(
    session: Session, merchant_id: str, test_id: str, *, vault: Vault
) -> sa.Row[Any]:
    """A new payment method for one of Stripe's test ids (``pm_card_visa``…)."""
    card = validate_card(
        TEST_PAYMENT_METHOD_CARDS[test_id], 12, date.today().year + TEST_CARD_VALID_YEARS, None
    )
    token = await vault.store_card(session, merchant_id, card, None)
    payment_method_id = new_id("pm")
    await repository.insert(
        session,
        id=payment_method_id,
        merchant_id=merchant_id,
        customer_id=None,
        type="card",
        vault_token=token,
        brand=card.brand,
        last4=card.last4,
        exp_month=card.exp_month,
        exp_year=card.exp_year,
        funding=card.funding,
        fingerprint=vault.fingerprint(merchant_id, card.number),
        billing_details={},
        metadata={},
        created=now(),
    )
    return await get(session, merchant_id, payment_method_id)


async def get(session: Session, merchant_id: str, payment_method_id: str) -> sa.Row[Any]:
    row = await repository.get(session, merchant_id, payment_method_id)
    if row is None:
        raise ResourceMissing(
            f"No such PaymentMethod: '{payment_method_id}'", param="payment_method"
        )
    return row


async def update(
    session: Session, merchant_id: str, payment_method_id: str, params: PaymentMethodUpdate
) -> sa.Row[Any]:
    row = await get(session, merchant_id, payment_method_id)
    changes: dict[str, Any] = {}
    if params.billing_details is not None:
        changes["billing_details"] = params.billing_details.model_dump()
    if params.metadata is not None:
        changes["metadata"] = merge_metadata(row.metadata or {}, params.metadata)
    if changes:
        await repository.update(session, payment_method_id, **changes)
    return await get(session, merchant_id, payment_method_id)


async def attach(
    session: Session, merchant_id: str, payment_method_id: str, customer_id: str
) -> sa.Row[Any]:
    row = await get(session, merchant_id, payment_method_id)
    await customers.get(session, merchant_id, customer_id, param="customer")
    if row.customer_id is not None and row.customer_id != customer_id:
        raise InvalidRequest(
            "This PaymentMethod is already attached to another customer. Detach it first.",
            param="customer",
            code="payment_method_unexpected_state",
        )
    await repository.update(session, payment_method_id, customer_id=customer_id)
    return await get(session, merchant_id, payment_method_id)


async def detach(session: Session, merchant_id: str, payment_method_id: str) -> sa.Row[Any]:
    row = await get(session, merchant_id, payment_method_id)
    if row.customer_id is None:
        raise InvalidRequest(
            "The payment method you provided is not attached to a customer so detachment "
            "is impossible.",
            code="payment_method_unexpected_state",
        )
    await repository.update(session, payment_method_id, customer_id=None)
    return await get(session, merchant_id, payment_method_id)


async def list_for_customer(session: Session, merchant_id: str, params: PaymentMethodList) -> Page:
    if params.customer is None:
        raise MissingParameter(
            "Missing required param: customer. List payment methods per customer.",
            param="customer",
        )
    await customers.get(session, merchant_id, params.customer, param="customer")
    return await repository.page_for_customer(session, merchant_id, params.customer, params)
