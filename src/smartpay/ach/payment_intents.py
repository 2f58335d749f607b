"""PaymentIntents paid by ACH debit (``payment_method_types=["us_bank_account"]``).

Stripe's ACH Direct Debit: confirming such an intent with a ``us_bank_account`` payment
method starts a debit and leaves the intent ``processing`` (the charge ``pending``)
until the debit settles, days later: then ``succeeded``. A return before settlement
sends the intent back to ``requires_payment_method`` with ``last_payment_error`` (the
charge ``failed`` with Stripe's failure code), as Stripe does.

The debit is an ordinary ACH transfer (``payment_intent_id`` and ``charge_id`` set), so
it is batched, filed, returned and settled like any other and its ledger entries are the
transfer's (see ``ach.service``). ``follow_transfer`` is called by the transfer's one
transition function and moves the intent and the charge with it, in the same unit of
work. The payments flows only hand the confirmation over (``ach.service.
confirm_payment_intent``); nothing here talks to a card connector.
"""

from __future__ import annotations

from typing import Any

from smartpay.ach.models import ACH_PROCESSOR, TransferStatus
from smartpay.ach.schemas import PAYOUT_FAILURE_CODES
from smartpay.cards.schemas import us_bank_account_summary
from smartpay.events.service import EventBatch
from smartpay.kit.db import Session, snapshot
from smartpay.payments import repository as payments_repository
from smartpay.payments.models import ChargeStatus, IntentStatus
from smartpay.payments.schemas import render_charge, render_payment_intent
from smartpay.payments.service import check_transition, new_charge_values

US_BANK_ACCOUNT = "us_bank_account"
# Stripe's charge failure codes for ACH debit returns: the payout codes plus those only
# a debit gets; any other return code is a generic bank decline.
DEBIT_FAILURE_CODES = {
    **PAYOUT_FAILURE_CODES,
    "R05": "debit_not_authorized",
    "R07": "debit_not_authorized",
    "R08": "debit_not_authorized",
    "R10": "debit_not_authorized",
    "R51": "debit_not_authorized",
}
GENERIC_FAILURE_CODE = "bank_account_declined"


def allowed_types(intent: Any) -> list[str]:
    return list(getattr(intent, "payment_method_types", None) or ["card"])


def charge_values(
    *,
    charge_id: str,
    intent: Any,
    method: Any,
    created: int,
    transfer_id: str,
) -> dict[str, Any]:
    """The pending charge of an ACH-paid intent: the bank account's public summary in
    place of a card's (``charges.card`` holds the payment method details), the transfer
    as the processor's reference, no processor fee (the ACH fee is SmartPay's own cost,
    in the cost monitor)."""
    return new_charge_values(
        charge_id=charge_id,
        intent=intent,
        method=method,
        payment_method_details=us_bank_account_summary(method),
        processor=ACH_PROCESSOR,
        created=created,
        processor_reference=transfer_id,
    )


async def start(
    session: Session,
    intent: Any,
    charge: dict[str, Any],
    intent_changes: dict[str, Any],
    events: EventBatch,
) -> Any:
    """Records the pending charge and moves the intent to ``processing``; returns the
    intent as it now is."""
    check_transition(intent.status, IntentStatus.PROCESSING)
    await payments_repository.insert_charge(session, **charge)
    changes = {
        **intent_changes,
        "status": IntentStatus.PROCESSING.value,
        "latest_charge_id": charge["id"],
        "last_payment_error": None,
        "next_action": None,
    }
    await payments_repository.update_intent(session, intent.id, **changes)
    updated = snapshot(intent, **changes)
    events.add("charge.pending", render_charge(snapshot(charge)))
    events.add("payment_intent.processing", render_payment_intent(updated))
    return updated


def failure_code(return_code: str | None) -> str:
    if return_code is None:
        return GENERIC_FAILURE_CODE
    return DEBIT_FAILURE_CODES.get(return_code, GENERIC_FAILURE_CODE)


async def follow_transfer(
    session: Session,
    transfer: Any,
    target: TransferStatus,
    events: EventBatch | None,
    **fields: Any,
) -> None:
    """Moves the intent and charge of a debit that pays a PaymentIntent along with the
    debit: settled → succeeded; returned or failed → the charge failed and, while the
    intent is still processing, the intent back to requires_payment_method. A return
    after settlement (NACHA allows some for 60 days) fails the charge and is reversed in
    the ledger, but a succeeded intent is terminal and stays so."""
    if transfer.payment_intent_id is None or target not in (
        TransferStatus.SETTLED,
        TransferStatus.RETURNED,
        TransferStatus.FAILED,
    ):
        return
    merchant_id = transfer.merchant_id
    intent = await payments_repository.get_intent(
        session, merchant_id, transfer.payment_intent_id, for_update=True
    )
    charge = await payments_repository.get_charge(
        session, merchant_id, transfer.charge_id, for_update=True
    )
    if intent is None or charge is None:
        return
    batch = events if events is not None else EventBatch(merchant_id)
    if target is TransferStatus.SETTLED:
        charge_changes: dict[str, Any] = {
            "status": ChargeStatus.SUCCEEDED.value,
            "captured": True,
            "amount_captured": charge.amount,
        }
        await payments_repository.update_charge(session, charge.id, **charge_changes)
        batch.add("charge.succeeded", render_charge(snapshot(charge, **charge_changes)))
        if intent.status == IntentStatus.PROCESSING and intent.latest_charge_id == charge.id:
            check_transition(intent.status, IntentStatus.SUCCEEDED)
            intent_changes = {
                "status": IntentStatus.SUCCEEDED.value,
                "amount_received": charge.amount,
            }
            await payments_repository.update_intent(session, intent.id, **intent_changes)
            batch.add(
                "payment_intent.succeeded",
                render_payment_intent(snapshot(intent, **intent_changes)),
            )
    else:
        return_code = fields.get("return_code")
        code = failure_code(return_code)
        message = fields.get("failure_message") or transfer.failure_message or "ACH debit failed."
        if return_code:
            message = f"{message} (ACH return {return_code})."
        charge_changes = {
            "status": ChargeStatus.FAILED.value,
            "failure_code": code,
            "failure_message": message,
        }
        await payments_repository.update_charge(session, charge.id, **charge_changes)
        batch.add("charge.failed", render_charge(snapshot(charge, **charge_changes)))
        if intent.status == IntentStatus.PROCESSING and intent.latest_charge_id == charge.id:
            check_transition(intent.status, IntentStatus.REQUIRES_PAYMENT_METHOD)
            intent_changes = {
                "status": IntentStatus.REQUIRES_PAYMENT_METHOD.value,
                "last_payment_error": {
                    "type": "invalid_request_error",
                    "code": code,
                    "decline_code": None,
                    "message": message,
                    "charge": charge.id,
                    "payment_method": {"id": charge.payment_method_id, "object": "payment_method"},
                    "payment_method_type": US_BANK_ACCOUNT,
                },
            }
            await payments_repository.update_intent(session, intent.id, **intent_changes)
            batch.add(
                "payment_intent.payment_failed",
                render_payment_intent(snapshot(intent, **intent_changes)),
            )
    if events is None:
        await batch.flush(session)
