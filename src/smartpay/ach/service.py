"""ACH transfers: debits (collect from a customer's bank account) and credits (payouts).

Every status change goes through ``transition``: the one transition table, a
compare-and-set on the row, the ledger entry of that change and its event, all in the
caller's unit of work. The ledger (D = debit, C = credit, A = amount):

    debit initiated     D ach_receivable A        C ach_debits_pending A
    debit settled       D ach_debits_pending A    C merchant_available A
                        D ach_settlement A        C ach_receivable A
    debit returned      D ach_debits_pending A    C ach_receivable A     (before settlement)
      or failed         D merchant_available A    C ach_settlement A     (after settlement)
    payout initiated    D merchant_available A    C ach_payouts_pending A
                        (an escrow release funds it from escrow_held instead)
    payout settled      D ach_payouts_pending A   C ach_settlement A
    payout returned     D ach_payouts_pending A   C merchant_available A (before settlement)
      or failed         D ach_settlement A        C merchant_available A (after settlement)

ACH fees are the platform's cost from its ODFI: they are recorded per transfer in the
cost monitor (``fee``), not taken from the merchant's balance.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi.responses import Response

from smartpay.ach import payment_intents, repository
from smartpay.ach.models import (
    TRANSFER_TRANSITIONS,
    AccountHolderType,
    Direction,
    MandateStatus,
    SecCode,
    Speed,
    TransferStatus,
)
from smartpay.ach.odfi import SAME_DAY_LIMIT, choose_odfi
from smartpay.ach.schemas import (
    ACH_MAX_AMOUNT,
    AchDebitCreate,
    PayoutCreate,
    TransferList,
    render_transfer,
)
from smartpay.cards import service as payment_methods
from smartpay.config import Settings
from smartpay.dependencies import WriteContext
from smartpay.errors import InvalidRequest, InvalidState, ResourceMissing
from smartpay.events.service import EventBatch
from smartpay.kit.clock import now as clock_now
from smartpay.kit.db import Session, snapshot
from smartpay.kit.ids import new_id
from smartpay.kit.pagination import Page
from smartpay.kit.params import merge_metadata
from smartpay.ledger import service as ledger
from smartpay.ledger.models import AccountCode, EntryKind, ReferenceType
from smartpay.payments.models import CaptureMethod
from smartpay.payments.schemas import PaymentIntentConfirm, render_payment_intent
from smartpay.payments.service import check_confirmable, resolve_payment_method
from smartpay.vault.service import Vault

DEBIT_PREFIX = "achd"
PAYOUT_PREFIX = "po"  # Stripe's payout prefix
# Returns after which no further debit may be sent under the mandate (NACHA: the
# receiver revoked or never gave authorization, or the account cannot take entries).
MANDATE_ENDING_RETURN_CODES = frozenset(
    {"R02", "R03", "R04", "R05", "R07", "R08", "R10", "R16", "R20", "R29", "R51"}
)


class TransitionRefused(InvalidState):
    default_code = "ach_transfer_unexpected_state"


def check_transition(current: str, target: TransferStatus) -> None:
    if target not in TRANSFER_TRANSITIONS[TransferStatus(current)]:
        raise TransitionRefused(f"An ACH transfer cannot move from {current} to {target.value}.")


def _event_type(direction: str, target: TransferStatus) -> str:
    if direction == Direction.DEBIT:
        return f"ach_debit.{target.value}"
    return {
        TransferStatus.INITIATED: "payout.created",
        TransferStatus.BATCHED: "payout.updated",
        TransferStatus.SUBMITTED: "payout.updated",
        TransferStatus.SETTLED: "payout.paid",
        TransferStatus.RETURNED: "payout.failed",
        TransferStatus.FAILED: "payout.canceled",
    }[target]


def _reversal(direction: str, was: TransferStatus, amount: int) -> list[ledger.Posting]:
    settled = was is TransferStatus.SETTLED
    if direction == Direction.DEBIT:
        if settled:
            return [
                ledger.debit(AccountCode.MERCHANT_AVAILABLE, amount),
                ledger.credit(AccountCode.ACH_SETTLEMENT, amount),
            ]
        return [
            ledger.debit(AccountCode.ACH_DEBITS_PENDING, amount),
            ledger.credit(AccountCode.ACH_RECEIVABLE, amount),
        ]
    if settled:
        return [
            ledger.debit(AccountCode.ACH_SETTLEMENT, amount),
            ledger.credit(AccountCode.MERCHANT_AVAILABLE, amount),
        ]
    return [
        ledger.debit(AccountCode.ACH_PAYOUTS_PENDING, amount),
        ledger.credit(AccountCode.MERCHANT_AVAILABLE, amount),
    ]


def _ledger_for(direction: str, was: TransferStatus, target: TransferStatus, amount: int) -> Any:
    """(kind, postings) of a status change, or None when it moves no money."""
    if target is TransferStatus.SETTLED:
        if direction == Direction.DEBIT:
            return EntryKind.ACH_DEBIT_SETTLED, [
                ledger.debit(AccountCode.ACH_DEBITS_PENDING, amount),
                ledger.credit(AccountCode.MERCHANT_AVAILABLE, amount),
                ledger.debit(AccountCode.ACH_SETTLEMENT, amount),
                ledger.credit(AccountCode.ACH_RECEIVABLE, amount),
            ]
        return EntryKind.ACH_CREDIT_SETTLED, [
            ledger.debit(AccountCode.ACH_PAYOUTS_PENDING, amount),
            ledger.credit(AccountCode.ACH_SETTLEMENT, amount),
        ]
    if target in (TransferStatus.RETURNED, TransferStatus.FAILED):
        return EntryKind.ACH_REVERSAL, _reversal(direction, was, amount)
    return None


async def transition(
    session: Session,
    row: Any,
    target: TransferStatus,
    events: EventBatch | None,
    **fields: Any,
) -> Any:
    """Moves one transfer to ``target`` (through the transition table, compare-and-set
    on its status), posts the ledger entry of the change and adds its event. Returns the
    row as it now is; raises ``TransitionRefused`` if the move is not allowed or another
    transaction moved the transfer first."""
    check_transition(row.status, target)
    if not await repository.update_transfer(
        session, row.id, row.status, status=target.value, **fields
    ):
        raise TransitionRefused(f"ACH transfer {row.id} changed concurrently.")
    await payment_intents.follow_transfer(session, row, target, events, **fields)
    posting = _ledger_for(row.direction, TransferStatus(row.status), target, row.amount)
    if posting is not None:
        kind, postings = posting
        await ledger.post_entry(
            session,
            merchant_id=row.merchant_id,
            currency=row.currency,
            kind=kind,
            postings=postings,
            reference_type=ReferenceType.ACH_TRANSFER,
            reference_id=row.id,
        )
    updated = snapshot(row, status=target.value, **fields)
    if events is not None:
        events.add(
            _event_type(row.direction, target),
            render_transfer(updated),
            previous_attributes={"status": row.status},
        )
    return updated


async def _bank_method(
    session: Session, merchant_id: str, payment_method_id: str, param: str
) -> Any:
    method = await payment_methods.get(session, merchant_id, payment_method_id)
    if method.type != "us_bank_account":
        raise InvalidRequest(
            "This PaymentMethod is not a us_bank_account.",
            param=param,
            code="payment_method_invalid_parameter",
        )
    return method


def _check_speed(speed: str, amount: int, param: str) -> None:
    if speed == Speed.SAME_DAY and amount > SAME_DAY_LIMIT:
        raise InvalidRequest(
            f"Same-day ACH is limited to {SAME_DAY_LIMIT} cents per entry (NACHA).",
            param=param,
            code="amount_too_large",
        )


async def _active_mandate(session: Session, merchant_id: str, method: Any) -> Any:
    mandate = (
        await repository.get_mandate(session, merchant_id, method.mandate_id)
        if method.mandate_id
        else None
    )
    if mandate is None or mandate.status != MandateStatus.ACTIVE:
        raise InvalidRequest(
            "This bank account has no active authorization (mandate) to debit it: create "
            "the payment method with mandate_data.",
            param="payment_method",
            code="mandate_invalid",
        )
    return mandate


async def _insert_debit(
    session: Session,
    merchant_id: str,
    method: Any,
    params: AchDebitCreate,
    settings: Settings,
    **links: str,
) -> Any:
    """The one way a debit starts, from ``/v1/ach_debits`` or a PaymentIntent
    (``links``: its ``payment_intent_id`` and ``charge_id``)."""
    _check_speed(params.speed, params.amount, "speed")
    mandate = await _active_mandate(session, merchant_id, method)
    odfi = choose_odfi(settings, params.odfi)
    values = {
        "id": new_id(DEBIT_PREFIX),
        "merchant_id": merchant_id,
        "direction": Direction.DEBIT.value,
        "payment_method_id": method.id,
        "mandate_id": mandate.id,
        "amount": params.amount,
        "currency": params.currency,
        "status": TransferStatus.INITIATED.value,
        "sec_code": mandate.sec_code,
        "odfi": odfi.key,
        "speed": params.speed,
        "description": params.description,
        "metadata": merge_metadata({}, params.metadata),
        "created": clock_now(),
        **links,
    }
    return await _insert(
        session, values, AccountCode.ACH_RECEIVABLE, AccountCode.ACH_DEBITS_PENDING
    )


async def create_debit(
    session: Session, merchant_id: str, params: AchDebitCreate, settings: Settings
) -> Any:
    method = await _bank_method(session, merchant_id, params.payment_method, "payment_method")
    return await _insert_debit(session, merchant_id, method, params, settings)


def _incompatible(method_type: str, allowed: list[str]) -> InvalidRequest:
    return InvalidRequest(
        f"The PaymentMethod provided ({method_type}) is not allowed for this PaymentIntent. "
        f"Attach a PaymentMethod of one of these types: {', '.join(allowed)}, or create the "
        f"PaymentIntent with payment_method_types including {method_type!r}.",
        param="payment_method",
        code="payment_intent_incompatible_payment_method",
    )


async def confirm_payment_intent(
    session: Session,
    ctx: WriteContext,
    intent: Any,
    params: PaymentIntentConfirm,
    events: EventBatch,
    *,
    method: Any,
    settings: Settings,
    vault: Vault,
) -> Response | Any:
    """Phase one of a PaymentIntent confirmation, before any card work: when the payment
    method is a us_bank_account (and the intent allows it), starts the ACH debit, moves
    the intent to ``processing`` and answers the request (a Response). Otherwise returns
    the payment method row it read (``method``, or None when it read none) for the card
    path, having refused a payment method type the intent does not allow."""
    allowed = payment_intents.allowed_types(intent)
    payment_method_id = params.payment_method or intent.payment_method_id
    if payment_method_id is None:
        return method  # the card path says what is missing
    known = method if method is not None and method.id == payment_method_id else None
    if payment_intents.US_BANK_ACCOUNT not in allowed:
        # The common card case costs no extra read; a bank account read by the caller is
        # refused here with Stripe's message (otherwise the vault refuses it).
        if known is not None and known.type == payment_intents.US_BANK_ACCOUNT:
            raise _incompatible(known.type, allowed)
        return method
    if known is None:
        if payment_method_id in payment_methods.TEST_PAYMENT_METHOD_CARDS:
            if "card" not in allowed:
                raise _incompatible("card", allowed)
            return method  # the card path creates the test card
        known = await resolve_payment_method(
            session, ctx.merchant.merchant_id, payment_method_id, intent.customer_id, vault=vault
        )
    if known.type != payment_intents.US_BANK_ACCOUNT:
        if known.type not in allowed:
            raise _incompatible(known.type, allowed)
        return known
    return await _confirm_with_bank_account(session, ctx, intent, params, events, known, settings)


async def _confirm_with_bank_account(
    session: Session,
    ctx: WriteContext,
    intent: Any,
    params: PaymentIntentConfirm,
    events: EventBatch,
    method: Any,
    settings: Settings,
) -> Response:
    check_confirmable(intent)
    if intent.currency != "usd":
        raise InvalidRequest(
            f"The currency provided ({intent.currency}) is invalid for the payment method "
            "type us_bank_account, which supports: usd.",
            param="currency",
            code="payment_intent_invalid_currency",
        )
    if (params.capture_method or intent.capture_method) == CaptureMethod.MANUAL:
        raise InvalidRequest(
            "The payment method type us_bank_account does not support "
            "capture_method=manual: an ACH debit is collected in full when it settles.",
            param="capture_method",
        )
    if intent.amount > ACH_MAX_AMOUNT:
        raise InvalidRequest(
            f"An ACH debit is at most {ACH_MAX_AMOUNT} cents (NACHA's ten-digit amount).",
            param="amount",
            code="amount_too_large",
        )
    charge_id = new_id("ch")
    debit = await _insert_debit(
        session,
        intent.merchant_id,
        method,
        AchDebitCreate(
            amount=intent.amount,
            currency="usd",
            payment_method=method.id,
            description=intent.description or f"PaymentIntent {intent.id}",
        ),
        settings,
        payment_intent_id=intent.id,
        charge_id=charge_id,
    )
    charge = payment_intents.charge_values(
        charge_id=charge_id,
        intent=intent,
        method=method,
        created=clock_now(),
        transfer_id=debit.id,
    )
    updated = await payment_intents.start(
        session,
        intent,
        charge,
        {
            "payment_method_id": method.id,
            "capture_method": CaptureMethod.AUTOMATIC.value,
            "receipt_email": params.receipt_email or intent.receipt_email,
            "return_url": params.return_url or intent.return_url,
        },
        events,
    )
    await ctx.attach(session, intent.id)
    await events.flush(session)
    return await ctx.complete(session, 200, render_payment_intent(updated))


async def create_payout(
    session: Session,
    merchant_id: str,
    params: PayoutCreate,
    settings: Settings,
    *,
    escrow_id: str | None = None,
) -> Any:
    """A payout to a us_bank_account payment method, funded from the merchant's
    available balance, or from escrow when ``escrow_id`` is given (the escrow has
    checked its own funds)."""
    method = await _bank_method(session, merchant_id, params.destination, "destination")
    _check_speed(params.method, params.amount, "method")
    if escrow_id is None:
        balance = await ledger.get_balance(session, merchant_id)
        available = next(
            (
                item["amount"]
                for item in balance["available"]
                if item["currency"] == params.currency
            ),
            0,
        )
        if available < params.amount:
            raise InvalidRequest(
                f"Insufficient available balance: {available} {params.currency} available, "
                f"payout of {params.amount} requested.",
                param="amount",
                code="balance_insufficient",
            )
    odfi = choose_odfi(settings, params.odfi)
    bank = await repository.bank_account(session, method.id)
    assert bank is not None
    sec = SecCode.CCD if bank.account_holder_type == AccountHolderType.COMPANY else SecCode.PPD
    values = {
        "id": new_id(PAYOUT_PREFIX),
        "merchant_id": merchant_id,
        "direction": Direction.CREDIT.value,
        "payment_method_id": method.id,
        "mandate_id": None,
        "amount": params.amount,
        "currency": params.currency,
        "status": TransferStatus.INITIATED.value,
        "sec_code": sec.value,
        "odfi": odfi.key,
        "speed": params.method,
        "description": params.description,
        "metadata": merge_metadata({}, params.metadata),
        "escrow_id": escrow_id,
        "created": clock_now(),
    }
    source = AccountCode.ESCROW_HELD if escrow_id else AccountCode.MERCHANT_AVAILABLE
    return await _insert(session, values, source, AccountCode.ACH_PAYOUTS_PENDING)


async def _insert(
    session: Session,
    values: dict[str, Any],
    debit_account: AccountCode,
    credit_account: AccountCode,
) -> Any:
    await repository.insert_transfer(session, **values)
    direction = values["direction"]
    await ledger.post_entry(
        session,
        merchant_id=values["merchant_id"],
        currency=values["currency"],
        kind=EntryKind.ACH_DEBIT if direction == Direction.DEBIT else EntryKind.ACH_CREDIT,
        postings=[
            ledger.debit(debit_account, values["amount"]),
            ledger.credit(credit_account, values["amount"]),
        ],
        reference_type=ReferenceType.ACH_TRANSFER,
        reference_id=values["id"],
    )
    row = await repository.get_transfer(session, values["merchant_id"], values["id"])
    events = EventBatch(values["merchant_id"])
    events.add(_event_type(direction, TransferStatus.INITIATED), render_transfer(row))
    await events.flush(session)
    return row


async def get(session: Session, merchant_id: str, transfer_id: str, direction: Direction) -> Any:
    row = await repository.get_transfer(
        session, merchant_id, transfer_id, direction=direction.value, for_update=True
    )
    if row is None:
        noun = "ach_debit" if direction is Direction.DEBIT else "payout"
        raise ResourceMissing(f"No such {noun}: '{transfer_id}'", param="id")
    return row


async def cancel(session: Session, merchant_id: str, transfer_id: str, direction: Direction) -> Any:
    """Cancels a transfer not yet submitted (initiated or batched: its file is not out)."""
    row = await get(session, merchant_id, transfer_id, direction)
    if row.payment_intent_id is not None:
        raise TransitionRefused(
            f"This ACH debit pays PaymentIntent {row.payment_intent_id}: it cannot be "
            "canceled on its own (an ACH PaymentIntent cannot be canceled while processing)."
        )
    if row.status not in (TransferStatus.INITIATED, TransferStatus.BATCHED):
        raise TransitionRefused(
            f"This transfer is {row.status}: only initiated or batched transfers can be canceled."
        )
    if row.status == TransferStatus.BATCHED:
        raise TransitionRefused(
            "This transfer is already in a file being written; it can no longer be canceled."
        )
    events = EventBatch(merchant_id)
    updated = await transition(
        session, row, TransferStatus.FAILED, events, failure_message="Canceled by the merchant."
    )
    await events.flush(session)
    return updated


async def list_(
    session: Session, merchant_id: str, direction: Direction, params: TransferList
) -> Page:
    status = params.status.value if params.status else None
    return await repository.page_transfers(session, merchant_id, direction.value, params, status)


async def get_mandate(session: Session, merchant_id: str, mandate_id: str) -> sa.Row[Any]:
    row = await repository.get_mandate(session, merchant_id, mandate_id)
    if row is None:
        raise ResourceMissing(f"No such mandate: '{mandate_id}'", param="mandate")
    return row


async def settle_due(session: Session, now: int, limit: int = 500) -> int:
    """Submitted transfers whose settlement time has passed with no return: settled."""
    rows = await repository.transfers_due_to_settle(session, now, limit)
    batches: dict[str, EventBatch] = {}
    for row in rows:
        events = batches.setdefault(row.merchant_id, EventBatch(row.merchant_id))
        await transition(session, row, TransferStatus.SETTLED, events, settled_at=now)
    for events in batches.values():
        await events.flush(session)
    return len(rows)


async def end_mandate_if_needed(session: Session, row: Any, return_code: str) -> None:
    if row.mandate_id and return_code in MANDATE_ENDING_RETURN_CODES:
        await repository.update_mandate(
            session, row.mandate_id, status=MandateStatus.INACTIVE.value
        )
