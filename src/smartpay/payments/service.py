"""Single-transaction payment operations and the rules shared with ``flows``."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from smartpay.cards import service as payment_methods
from smartpay.customers import service as customers
from smartpay.errors import InvalidRequest, InvalidState, ResourceMissing
from smartpay.kit.clock import now
from smartpay.kit.db import Session
from smartpay.kit.ids import new_id, new_secret
from smartpay.kit.money import check_amount, normalize_currency
from smartpay.kit.pagination import Page
from smartpay.kit.params import merge_metadata
from smartpay.payments import repository
from smartpay.payments.models import (
    INTENT_TRANSITIONS,
    CaptureMethod,
    ChargeStatus,
    IntentStatus,
)
from smartpay.payments.schemas import (
    ChargeList,
    PaymentIntentCreate,
    PaymentIntentList,
    PaymentIntentUpdate,
    RefundList,
    RefundUpdate,
    render_payment_intent,
)
from smartpay.vault.service import Vault


def check_transition(current: str, target: IntentStatus) -> None:
    """Every intent status change goes through the one transition table."""
    if target not in INTENT_TRANSITIONS[IntentStatus(current)]:
        raise InvalidState(f"A PaymentIntent cannot move from {current} to {target.value}.")


def check_confirmable(intent: Any) -> None:
    """A PaymentIntent can be confirmed only while it waits for a payment method or a
    confirmation."""
    if intent.status not in (
        IntentStatus.REQUIRES_PAYMENT_METHOD,
        IntentStatus.REQUIRES_CONFIRMATION,
    ):
        raise InvalidState(
            f"You cannot confirm this PaymentIntent because it has a status of "
            f"{intent.status}. Confirm a PaymentIntent whose status is "
            "requires_payment_method or requires_confirmation.",
            extra={"payment_intent": render_payment_intent(intent)},
        )


def new_charge_values(
    *,
    charge_id: str,
    intent: Any,
    method: Any,
    payment_method_details: dict[str, Any],
    processor: str,
    created: int,
    status: ChargeStatus = ChargeStatus.PENDING,
    **overrides: Any,
) -> dict[str, Any]:
    """The row of a new charge of ``intent`` paid with ``method``: every column, from
    the intent's amount, currency, customer, description and metadata, with
    ``overrides`` (failure fields, outcome, processor reference) on top."""
    values = {
        "id": charge_id,
        "merchant_id": intent.merchant_id,
        "payment_intent_id": intent.id,
        "payment_method_id": method.id,
        "customer_id": intent.customer_id,
        "amount": intent.amount,
        "amount_captured": 0,
        "amount_refunded": 0,
        "currency": intent.currency,
        "status": status.value,
        "captured": False,
        "failure_code": None,
        "failure_message": None,
        "outcome": None,
        "card": payment_method_details,
        "processor": processor,
        "processor_reference": None,
        "fee": 0,
        "balance_transaction_id": None,
        "description": intent.description,
        "metadata": intent.metadata or {},
        "created": created,
    }
    unknown = set(overrides) - set(values)
    if unknown:
        raise TypeError(f"not charge columns: {sorted(unknown)}")
    values.update(overrides)
    return values


def _capture_method(value: str) -> str:
    # Stripe's automatic_async behaves as automatic here: capture happens synchronously.
    return CaptureMethod.MANUAL.value if value == "manual" else CaptureMethod.AUTOMATIC.value


async def get_intent(
    session: Session, merchant_id: str, intent_id: str, *, for_update: bool = False
) -> sa.Row[Any]:
    row = await repository.get_intent(session, merchant_id, intent_id, for_update=for_update)
    if row is None:
        raise ResourceMissing(f"No such payment_intent: '{intent_id}'", param="intent")
    return row


async def resolve_payment_method(
    session: Session,
    merchant_id: str,
    payment_method_id: str,
    customer_id: str | None,
    *,
    vault: Vault,
) -> sa.Row[Any]:
    """The payment method to charge: the merchant's own, or a fresh one for a Stripe test
    id such as ``pm_card_visa``."""
    if payment_method_id in payment_methods.TEST_PAYMENT_METHOD_CARDS:
        return await payment_methods.create_from_test_id(
            session, merchant_id, payment_method_id, vault=vault
        )
    method = await payment_methods.get(session, merchant_id, payment_method_id)
    if method.customer_id is not None and method.customer_id != customer_id:
        raise InvalidRequest(
            f"The provided PaymentMethod {payment_method_id} belongs to a customer other than "
            "this PaymentIntent's. Pass the same customer, or use another payment method.",
            param="payment_method",
        )
    return method


async def new_intent_values(
    session: Session, merchant_id: str, params: PaymentIntentCreate, *, vault: Vault
) -> tuple[dict[str, Any], sa.Row[Any] | None]:
    """The new intent's column values, and its payment method's row if it has one."""
    amount = check_amount(params.amount)
    currency = normalize_currency(params.currency)
    if params.customer is not None:
        await customers.get(session, merchant_id, params.customer, param="customer")
    method = None
    if params.payment_method is not None:
        method = await resolve_payment_method(
            session, merchant_id, params.payment_method, params.customer, vault=vault
        )
    intent_id = new_id("pi")
    status = (
        IntentStatus.REQUIRES_CONFIRMATION
        if params.payment_method
        else IntentStatus.REQUIRES_PAYMENT_METHOD
    )
    return {
        "id": intent_id,
        "merchant_id": merchant_id,
        "amount": amount,
        "currency": currency,
        "status": status.value,
        "capture_method": _capture_method(params.capture_method),
        "customer_id": params.customer,
        "payment_method_id": method.id if method is not None else None,
        "description": params.description,
        "receipt_email": params.receipt_email,
        "statement_descriptor": params.statement_descriptor,
        "metadata": merge_metadata({}, params.metadata),
        "amount_capturable": 0,
        "amount_received": 0,
        "return_url": params.return_url,
        "client_secret": f"{intent_id}_secret_{new_secret('s', 24)[2:]}",
        "created": now(),
        "latest_charge_id": None,
        "last_payment_error": None,
        "next_action": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "payment_method_types": params.payment_method_types,
    }, method


async def update_intent(
    session: Session,
    merchant_id: str,
    intent_id: str,
    params: PaymentIntentUpdate,
    *,
    vault: Vault,
) -> sa.Row[Any]:
    intent = await get_intent(session, merchant_id, intent_id, for_update=True)
    editable = {IntentStatus.REQUIRES_PAYMENT_METHOD, IntentStatus.REQUIRES_CONFIRMATION}
    money_fields = {"amount", "currency", "payment_method", "capture_method", "customer"}
    touched = params.model_fields_set & money_fields
    if touched and intent.status not in editable:
        raise InvalidState(
            f"You cannot update {', '.join(sorted(touched))} on a PaymentIntent with status "
            f"{intent.status}.",
            param=sorted(touched)[0],
        )
    changes: dict[str, Any] = {}
    if params.amount is not None:
        changes["amount"] = check_amount(params.amount)
    if params.currency is not None:
        changes["currency"] = normalize_currency(params.currency)
    if params.customer is not None:
        await customers.get(session, merchant_id, params.customer, param="customer")
        changes["customer_id"] = params.customer
    if params.payment_method is not None:
        method = await resolve_payment_method(
            session,
            merchant_id,
            params.payment_method,
            changes.get("customer_id", intent.customer_id),
            vault=vault,
        )
        changes["payment_method_id"] = method.id
        changes["status"] = IntentStatus.REQUIRES_CONFIRMATION.value
    if params.capture_method is not None:
        changes["capture_method"] = _capture_method(params.capture_method)
    for field in ("description", "receipt_email", "statement_descriptor"):
        if field in params.model_fields_set:
            changes[field] = getattr(params, field)
    if params.metadata is not None:
        changes["metadata"] = merge_metadata(intent.metadata or {}, params.metadata)
    if "status" in changes and changes["status"] != intent.status:
        check_transition(intent.status, IntentStatus(changes["status"]))
    if changes:
        await repository.update_intent(session, intent_id, **changes)
    return await get_intent(session, merchant_id, intent_id)


async def list_intents(session: Session, merchant_id: str, params: PaymentIntentList) -> Page:
    return await repository.page_intents(
        session, merchant_id, params, params.customer, params.created
    )


async def get_charge(session: Session, merchant_id: str, charge_id: str) -> sa.Row[Any]:
    row = await repository.get_charge(session, merchant_id, charge_id)
    if row is None:
        raise ResourceMissing(f"No such charge: '{charge_id}'", param="charge")
    return row


async def list_charges(session: Session, merchant_id: str, params: ChargeList) -> Page:
    return await repository.page_charges(
        session, merchant_id, params, params.customer, params.payment_intent, params.created
    )


async def get_refund(session: Session, merchant_id: str, refund_id: str) -> sa.Row[Any]:
    row = await repository.get_refund(session, merchant_id, refund_id)
    if row is None:
        raise ResourceMissing(f"No such refund: '{refund_id}'", param="refund")
    return row


async def update_refund(
    session: Session, merchant_id: str, refund_id: str, params: RefundUpdate
) -> sa.Row[Any]:
    row = await get_refund(session, merchant_id, refund_id)
    if params.metadata is not None:
        await repository.update_refund(
            session, refund_id, metadata=merge_metadata(row.metadata or {}, params.metadata)
        )
    return await get_refund(session, merchant_id, refund_id)


async def list_refunds(session: Session, merchant_id: str, params: RefundList) -> Page:
    return await repository.page_refunds(
        session, merchant_id, params, params.charge, params.payment_intent, params.created
    )
