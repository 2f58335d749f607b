"""Requests and responses of the ACH API: ``/v1/ach_debits`` (collect from a bank
account), ``/v1/payouts`` (pay into one, Stripe's payout shape), ``/v1/mandates``."""

from __future__ import annotations

import datetime
from typing import Any, Literal

from pydantic import Field

from smartpay.ach.models import Direction, TransferStatus
from smartpay.kit.pagination import ListParams
from smartpay.kit.params import MetadataMixin, StripeParams

# NACHA entry detail field 6: ten columns of cents.
ACH_MAX_AMOUNT = 10**10 - 1


class AchDebitCreate(StripeParams, MetadataMixin):
    amount: int = Field(ge=1, le=ACH_MAX_AMOUNT)
    currency: Literal["usd"]
    payment_method: str = Field(max_length=255)
    speed: Literal["standard", "same_day"] = "standard"
    description: str | None = Field(default=None, max_length=1000)
    odfi: str | None = Field(default=None, max_length=40)


class PayoutCreate(StripeParams, MetadataMixin):
    amount: int = Field(ge=1, le=ACH_MAX_AMOUNT)
    currency: Literal["usd"]
    destination: str = Field(max_length=255)
    method: Literal["standard", "same_day"] = "standard"
    description: str | None = Field(default=None, max_length=1000)
    odfi: str | None = Field(default=None, max_length=40)


class TransferList(ListParams, StripeParams):
    status: TransferStatus | None = None


class TransferCancel(StripeParams):
    pass


# Stripe payout statuses for each transfer status.
PAYOUT_STATUS = {
    TransferStatus.INITIATED: "pending",
    TransferStatus.BATCHED: "pending",
    TransferStatus.SUBMITTED: "in_transit",
    TransferStatus.SETTLED: "paid",
    TransferStatus.RETURNED: "failed",
    TransferStatus.FAILED: "failed",
}

# Stripe's payout failure codes for the NACHA return codes that have one.
PAYOUT_FAILURE_CODES = {
    "R01": "insufficient_funds",
    "R02": "account_closed",
    "R03": "no_account",
    "R04": "invalid_account_number",
    "R16": "account_frozen",
    "R20": "invalid_account_number",
    "R29": "debit_not_authorized",
}


def _date_unix(value: str | None) -> int | None:
    if value is None:
        return None
    day = datetime.date.fromisoformat(value)
    return int(datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.UTC).timestamp())


def render_debit(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "object": "ach_debit",
        "amount": row.amount,
        "currency": row.currency,
        "created": row.created,
        "description": row.description,
        "effective_date": row.effective_date,
        "failure_code": row.return_code,
        "failure_message": row.failure_message,
        "livemode": False,
        "mandate": row.mandate_id,
        "metadata": row.metadata or {},
        "payment_method": row.payment_method_id,
        "sec_code": row.sec_code,
        "speed": row.speed,
        "status": row.status,
        "trace_number": row.trace_number,
        "fee": row.fee,
        "escrow": row.escrow_id,
        "payment_intent": row.payment_intent_id,  # set when the debit pays a PaymentIntent
    }


def render_payout(row: Any) -> dict[str, Any]:
    status = TransferStatus(row.status)
    failure_code = None
    if row.return_code:
        failure_code = PAYOUT_FAILURE_CODES.get(row.return_code, "declined")
    elif status is TransferStatus.FAILED:
        failure_code = "canceled"
    return {
        "id": row.id,
        "object": "payout",
        "amount": row.amount,
        "arrival_date": _date_unix(row.effective_date),
        "automatic": False,
        "balance_transaction": None,
        "created": row.created,
        "currency": row.currency,
        "description": row.description,
        "destination": row.payment_method_id,
        "failure_code": failure_code,
        "failure_message": row.failure_message,
        "livemode": False,
        "metadata": row.metadata or {},
        "method": row.speed,
        "source_type": "card",
        "statement_descriptor": None,
        "status": PAYOUT_STATUS[status],
        "type": "bank_account",
        # SmartPay extensions: the ACH detail behind Stripe's coarser status.
        "ach_status": row.status,
        "ach_return_code": row.return_code,
        "trace_number": row.trace_number,
        "fee": row.fee,
        "escrow": row.escrow_id,
    }


def render_transfer(row: Any) -> dict[str, Any]:
    return render_debit(row) if row.direction == Direction.DEBIT else render_payout(row)
