from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from smartpay.ach.models import ACH_PROCESSOR
from smartpay.kit.pagination import CreatedFilter, ListParams, UnixTime
from smartpay.kit.params import Email, MetadataMixin, StripeParams

CancellationReason = Literal["duplicate", "fraudulent", "requested_by_customer", "abandoned"]
RefundReason = Literal["duplicate", "fraudulent", "requested_by_customer"]


class AutomaticPaymentMethods(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool
    allow_redirects: Literal["always", "never"] | None = None


class PaymentIntentCreate(StripeParams, MetadataMixin):
    amount: int
    currency: str = Field(max_length=8)
    customer: str | None = Field(default=None, max_length=255)
    payment_method: str | None = Field(default=None, max_length=255)
    confirm: bool = False
    capture_method: Literal["automatic", "automatic_async", "manual"] = "automatic"
    description: str | None = Field(default=None, max_length=1000)
    receipt_email: Email | None = None
    statement_descriptor: str | None = Field(default=None, max_length=22)
    # us_bank_account: confirmed into an ACH debit by the ACH service (ach.payment_intents).
    payment_method_types: list[Literal["card", "us_bank_account"]] | None = None
    automatic_payment_methods: AutomaticPaymentMethods | None = None
    return_url: str | None = Field(default=None, max_length=2000)


class PaymentIntentUpdate(StripeParams, MetadataMixin):
    amount: int | None = None
    currency: str | None = Field(default=None, max_length=8)
    customer: str | None = Field(default=None, max_length=255)
    payment_method: str | None = Field(default=None, max_length=255)
    capture_method: Literal["automatic", "automatic_async", "manual"] | None = None
    description: str | None = Field(default=None, max_length=1000)
    receipt_email: Email | None = None
    statement_descriptor: str | None = Field(default=None, max_length=22)


class PaymentIntentConfirm(StripeParams):
    payment_method: str | None = Field(default=None, max_length=255)
    capture_method: Literal["automatic", "automatic_async", "manual"] | None = None
    receipt_email: Email | None = None
    return_url: str | None = Field(default=None, max_length=2000)


class PaymentIntentCapture(StripeParams, MetadataMixin):
    amount_to_capture: int | None = None


class PaymentIntentCancel(StripeParams):
    cancellation_reason: CancellationReason | None = None


class PaymentIntentList(ListParams, StripeParams):
    customer: str | None = Field(default=None, max_length=255)
    created: CreatedFilter | UnixTime | None = None


class ChargeList(ListParams, StripeParams):
    customer: str | None = Field(default=None, max_length=255)
    payment_intent: str | None = Field(default=None, max_length=255)
    created: CreatedFilter | UnixTime | None = None


class RefundCreate(StripeParams, MetadataMixin):
    charge: str | None = Field(default=None, max_length=255)
    payment_intent: str | None = Field(default=None, max_length=255)
    amount: int | None = None
    reason: RefundReason | None = None


class RefundUpdate(StripeParams, MetadataMixin):
    pass


class RefundList(ListParams, StripeParams):
    charge: str | None = Field(default=None, max_length=255)
    payment_intent: str | None = Field(default=None, max_length=255)
    created: CreatedFilter | UnixTime | None = None


def render_payment_intent(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "object": "payment_intent",
        "amount": row.amount,
        "amount_capturable": row.amount_capturable,
        "amount_received": row.amount_received,
        "capture_method": row.capture_method,
        "confirmation_method": "automatic",
        "canceled_at": row.canceled_at,
        "cancellation_reason": row.cancellation_reason,
        "client_secret": row.client_secret,
        "created": row.created,
        "currency": row.currency,
        "customer": row.customer_id,
        "description": row.description,
        "last_payment_error": row.last_payment_error,
        "latest_charge": row.latest_charge_id,
        "livemode": False,
        "metadata": row.metadata or {},
        "next_action": row.next_action,
        "payment_method": row.payment_method_id,
        "payment_method_types": getattr(row, "payment_method_types", None) or ["card"],
        "receipt_email": row.receipt_email,
        "statement_descriptor": row.statement_descriptor,
        "status": row.status,
        # SmartPay extension: why each processor was tried (rule, split, scores, breakers).
        "routing": getattr(row, "routing", None),
        # Stripe's review id, and SmartPay's risk object (score, decision, reasons, model).
        "review": getattr(row, "review_id", None),
        "risk": getattr(row, "risk", None),
    }


def render_charge(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "object": "charge",
        "amount": row.amount,
        "amount_captured": row.amount_captured,
        "amount_refunded": row.amount_refunded,
        "balance_transaction": row.balance_transaction_id,
        "captured": row.captured,
        "created": row.created,
        "currency": row.currency,
        "customer": row.customer_id,
        "description": row.description,
        "disputed": False,
        "failure_code": row.failure_code,
        "failure_message": row.failure_message,
        "livemode": False,
        "metadata": row.metadata or {},
        "outcome": row.outcome,
        "paid": row.status == "succeeded",
        "payment_intent": row.payment_intent_id,
        "payment_method": row.payment_method_id,
        "payment_method_details": (
            {"type": "us_bank_account", "us_bank_account": row.card}
            if row.processor == ACH_PROCESSOR
            else {"type": "card", "card": row.card}
        ),
        "refunded": row.amount_captured > 0 and row.amount_refunded >= row.amount_captured,
        "status": row.status,
    }


def render_refund(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "object": "refund",
        "amount": row.amount,
        "balance_transaction": row.balance_transaction_id,
        "charge": row.charge_id,
        "created": row.created,
        "currency": row.currency,
        "failure_reason": row.failure_reason,
        "metadata": row.metadata or {},
        "payment_intent": row.payment_intent_id,
        "reason": row.reason,
        "status": row.status,
    }
