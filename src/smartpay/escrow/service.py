"""Escrow: hold part or all of a captured charge, release it (to the provider's bank
account by ACH credit, or to the merchant's balance), freeze it on a dispute, and end
the dispute by a refund to the customer or a release.

Ledger (D = debit, C = credit):

    hold       D merchant_available H   C escrow_held H
    release    D escrow_held R          C ach_payouts_pending R  (ACH credit to the provider)
           or  D escrow_held R          C merchant_available R   (no destination account)
    refund     D escrow_held R          C merchant_available R   then the payment's own
               refund path: D merchant_available R  C processor_receivable R

The hold is taken from the merchant's balance the way refunds are (the available side,
which may go negative until the capture settles), not from merchant_pending: the
ledger's check that merchant_pending equals the nets of unsettled captures stays exact,
and the capture still settles on its own schedule.

Invariants, held at every commit (the table's CHECK enforces the first):
released + refunded <= held <= captured - refunded outside escrow, and escrow_held
equals the sum over escrows of held - released - refunded.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from smartpay.ach import service as ach
from smartpay.ach.schemas import PayoutCreate
from smartpay.config import Settings
from smartpay.errors import InvalidRequest, InvalidState, MissingParameter, ResourceMissing
from smartpay.escrow import repository
from smartpay.escrow.models import (
    ESCROW_TRANSITIONS,
    EscrowStatus,
    ReleaseCondition,
)
from smartpay.events.service import EventBatch
from smartpay.kit.clock import now as clock_now
from smartpay.kit.db import Session, snapshot
from smartpay.kit.ids import new_id
from smartpay.kit.params import MetadataMixin, StripeParams, merge_metadata
from smartpay.ledger import service as ledger
from smartpay.ledger.models import AccountCode, EntryKind, ReferenceType
from smartpay.payments import service as payments


class EscrowCreate(StripeParams, MetadataMixin):
    charge: str | None = Field(default=None, max_length=255)
    payment_intent: str | None = Field(default=None, max_length=255)
    amount: int | None = Field(default=None, ge=1)
    release_condition: ReleaseCondition = ReleaseCondition.MANUAL
    release_at: int | None = Field(default=None, ge=0, le=2**53)
    destination: str | None = Field(default=None, max_length=255)


class EscrowRelease(StripeParams):
    amount: int | None = Field(default=None, ge=1)


class EscrowDispute(StripeParams):
    reason: str | None = Field(default=None, max_length=500)


class EscrowResolve(StripeParams):
    outcome: str = Field(pattern="^(refund|release)$")


class EscrowEmpty(StripeParams):
    pass


class EscrowStateError(InvalidState):
    default_code = "escrow_unexpected_state"


def check_transition(current: str, target: EscrowStatus) -> None:
    if target not in ESCROW_TRANSITIONS[EscrowStatus(current)]:
        raise EscrowStateError(f"An escrow cannot move from {current} to {target.value}.")


def remaining(row: Any) -> int:
    return int(row.amount_held - row.amount_released - row.amount_refunded)


def render(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "object": "escrow",
        "amount_held": row.amount_held,
        "amount_released": row.amount_released,
        "amount_refunded": row.amount_refunded,
        "amount_remaining": remaining(row),
        "charge": row.charge_id,
        "completed_at": row.completed_at,
        "created": row.created,
        "currency": row.currency,
        "destination": row.destination_payment_method_id,
        "dispute_reason": row.dispute_reason,
        "disputed_at": row.disputed_at,
        "livemode": False,
        "metadata": row.metadata or {},
        "payment_intent": row.payment_intent_id,
        "refund": row.refund_id,
        "release_at": row.release_at,
        "release_condition": row.release_condition,
        "status": row.status,
    }


async def get(session: Session, merchant_id: str, escrow_id: str) -> Any:
    row = await repository.get(session, merchant_id, escrow_id, for_update=True)
    if row is None:
        raise ResourceMissing(f"No such escrow: '{escrow_id}'", param="id")
    return row


async def _charge(session: Session, merchant_id: str, params: EscrowCreate) -> Any:
    if params.charge is None and params.payment_intent is None:
        raise MissingParameter("Missing required param: charge or payment_intent.", param="charge")
    charge_id = params.charge
    if charge_id is None:
        assert params.payment_intent is not None
        intent = await payments.get_intent(session, merchant_id, params.payment_intent)
        if intent.latest_charge_id is None:
            raise EscrowStateError(
                "This PaymentIntent has no captured charge to hold.", param="payment_intent"
            )
        charge_id = intent.latest_charge_id
    charge = await payments.get_charge(session, merchant_id, charge_id)
    if not charge.captured or charge.amount_captured <= 0:
        raise EscrowStateError("Only a captured charge can be held in escrow.", param="charge")
    return charge


async def create(session: Session, merchant_id: str, params: EscrowCreate) -> Any:
    charge = await _charge(session, merchant_id, params)
    dated = (ReleaseCondition.DATE, ReleaseCondition.DATE_AND_COMPLETION)
    if params.release_condition in dated and params.release_at is None:
        raise MissingParameter(
            "Missing required param: release_at (a date condition needs a date).",
            param="release_at",
        )
    if params.destination is not None:
        method = await ach._bank_method(session, merchant_id, params.destination, "destination")
        if charge.currency != "usd":
            raise InvalidRequest("ACH payouts are in usd only.", param="destination")
        destination: str | None = method.id
    else:
        destination = None
    already = await repository.held_on_charge(session, charge.id)
    capacity = charge.amount_captured - charge.amount_refunded - already
    amount = params.amount if params.amount is not None else capacity
    if amount <= 0 or amount > capacity:
        raise InvalidRequest(
            f"Escrow amount {amount} exceeds what the charge has left to hold ({capacity}).",
            param="amount",
            code="amount_too_large",
        )
    escrow_id = new_id("esc")
    values = {
        "id": escrow_id,
        "merchant_id": merchant_id,
        "charge_id": charge.id,
        "payment_intent_id": charge.payment_intent_id,
        "currency": charge.currency,
        "amount_held": amount,
        "amount_released": 0,
        "amount_refunded": 0,
        "status": EscrowStatus.HOLDING.value,
        "release_condition": params.release_condition.value,
        "release_at": params.release_at,
        "completed_at": None,
        "destination_payment_method_id": destination,
        "dispute_reason": None,
        "disputed_at": None,
        "refund_id": None,
        "metadata": merge_metadata({}, params.metadata),
        "created": clock_now(),
    }
    await repository.insert(session, **values)
    await ledger.post_entry(
        session,
        merchant_id=merchant_id,
        currency=charge.currency,
        kind=EntryKind.ESCROW_HOLD,
        postings=[
            ledger.debit(AccountCode.MERCHANT_AVAILABLE, amount),
            ledger.credit(AccountCode.ESCROW_HELD, amount),
        ],
        reference_type=ReferenceType.ESCROW,
        reference_id=escrow_id,
    )
    row = snapshot(values)
    events = EventBatch(merchant_id)
    events.add("escrow.created", render(row))
    await events.flush(session)
    return row


async def _update(
    session: Session, row: Any, target: EscrowStatus, events: EventBatch, **values: Any
) -> Any:
    check_transition(row.status, target)
    if not await repository.update(session, row.id, row.status, status=target.value, **values):
        raise EscrowStateError(f"Escrow {row.id} changed concurrently.")
    updated = snapshot(row, status=target.value, **values)
    events.add(
        f"escrow.{target.value}", render(updated), previous_attributes={"status": row.status}
    )
    return updated


async def release(
    session: Session,
    row: Any,
    amount: int | None,
    settings: Settings,
    *,
    allow_disputed: bool = False,
) -> Any:
    """Releases ``amount`` (default: all that remains) to the provider."""
    if row.status == EscrowStatus.DISPUTED and not allow_disputed:
        raise EscrowStateError("This escrow is disputed: resolve the dispute to release it.")
    left = remaining(row)
    amount = left if amount is None else amount
    if amount <= 0 or amount > left:
        raise InvalidRequest(
            f"Release amount {amount} exceeds the {left} still held.",
            param="amount",
            code="amount_too_large",
        )
    target = EscrowStatus.RELEASED if amount == left else EscrowStatus.PARTIALLY_RELEASED
    check_transition(row.status, target)
    if row.destination_payment_method_id is None:
        return await _take_out(
            session,
            row,
            target,
            EntryKind.ESCROW_RELEASE,
            amount,
            amount_released=row.amount_released + amount,
        )
    # The payout's own entry moves the funds from escrow_held to ach_payouts_pending.
    payout = await ach.create_payout(
        session,
        row.merchant_id,
        PayoutCreate(
            amount=amount,
            currency="usd",
            destination=row.destination_payment_method_id,
            description=f"Escrow release {row.id}",
        ),
        settings,
        escrow_id=row.id,
    )
    return await _take_out(
        session,
        row,
        target,
        None,
        amount,
        payout_id=payout.id,
        amount_released=row.amount_released + amount,
    )


async def _take_out(
    session: Session,
    row: Any,
    target: EscrowStatus,
    entry_kind: EntryKind | None,
    amount: int,
    *,
    payout_id: str | None = None,
    refund_id: str | None = None,
    **changes: Any,
) -> Any:
    """The one way money leaves an escrow (a release or a dispute's refund): the ledger
    entry back to the merchant's balance (``entry_kind``; None when a payout posted its
    own), the movement row, the status change and its event."""
    if entry_kind is not None:
        await ledger.post_entry(
            session,
            merchant_id=row.merchant_id,
            currency=row.currency,
            kind=entry_kind,
            postings=[
                ledger.debit(AccountCode.ESCROW_HELD, amount),
                ledger.credit(AccountCode.MERCHANT_AVAILABLE, amount),
            ],
            reference_type=ReferenceType.ESCROW,
            reference_id=row.id,
        )
    await repository.insert_movement(
        session,
        id=new_id("escmv"),
        escrow_id=row.id,
        kind="refund" if refund_id is not None else "release",
        amount=amount,
        payout_id=payout_id,
        refund_id=refund_id,
        created=clock_now(),
    )
    events = EventBatch(row.merchant_id)
    updated = await _update(session, row, target, events, **changes)
    await events.flush(session)
    return updated


async def confirm_completion(session: Session, row: Any, now: int, settings: Settings) -> Any:
    if row.completed_at is not None:
        return row
    if row.status not in (
        EscrowStatus.HOLDING,
        EscrowStatus.PARTIALLY_RELEASED,
        EscrowStatus.DISPUTED,
    ):
        raise EscrowStateError(f"This escrow is {row.status}: nothing is left to confirm.")
    await repository.set_fields(session, row.id, completed_at=now)
    updated = snapshot(row, completed_at=now)
    events = EventBatch(row.merchant_id)
    events.add("escrow.completion_confirmed", render(updated))
    await events.flush(session)
    if is_due(updated, now):
        return await release(session, updated, None, settings)
    return updated


def is_due(row: Any, now: int) -> bool:
    if row.status not in (EscrowStatus.HOLDING, EscrowStatus.PARTIALLY_RELEASED):
        return False
    if remaining(row) <= 0:
        return False
    dated = row.release_at is not None and row.release_at <= now
    completed = row.completed_at is not None
    condition = ReleaseCondition(row.release_condition)
    if condition is ReleaseCondition.DATE:
        return dated
    if condition is ReleaseCondition.COMPLETION:
        return completed
    if condition is ReleaseCondition.DATE_AND_COMPLETION:
        return dated and completed
    return False


async def dispute(session: Session, row: Any, reason: str | None, now: int) -> Any:
    events = EventBatch(row.merchant_id)
    updated = await _update(
        session, row, EscrowStatus.DISPUTED, events, dispute_reason=reason, disputed_at=now
    )
    await events.flush(session)
    return updated


def require_disputed(row: Any) -> None:
    if row.status != EscrowStatus.DISPUTED:
        raise EscrowStateError(f"This escrow is {row.status}, not disputed.")


async def resolve_by_release(session: Session, row: Any, settings: Settings) -> Any:
    """A dispute ends in favour of the provider: what remains is released to it."""
    require_disputed(row)
    return await release(session, row, None, settings, allow_disputed=True)


async def apply_refund(session: Session, row: Any, refund_id: str, amount: int) -> Any:
    """The refund of a disputed escrow succeeded: move its funds out of escrow."""
    return await _take_out(
        session,
        row,
        EscrowStatus.REFUNDED,
        EntryKind.ESCROW_REFUND,
        amount,
        refund_id=refund_id,
        amount_refunded=row.amount_refunded + amount,
    )
