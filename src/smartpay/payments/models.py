from __future__ import annotations

from enum import StrEnum
from typing import Final

import sqlalchemy as sa

from smartpay.kit.db import metadata


class IntentStatus(StrEnum):
    REQUIRES_PAYMENT_METHOD = "requires_payment_method"  # needs a (new) payment method
    REQUIRES_CONFIRMATION = "requires_confirmation"  # has a payment method, not confirmed
    REQUIRES_ACTION = "requires_action"  # customer must complete 3-D Secure
    PROCESSING = "processing"  # at the processor, or outcome unknown until resolved
    REQUIRES_CAPTURE = "requires_capture"  # authorized, funds held, capture pending
    CANCELED = "canceled"  # terminal: canceled, any hold released
    SUCCEEDED = "succeeded"  # terminal: funds captured


class CaptureMethod(StrEnum):
    AUTOMATIC = "automatic"  # authorize and capture in one step
    MANUAL = "manual"  # authorize now, capture later (up to the authorized amount)


class AttemptStatus(StrEnum):
    PENDING = "pending"  # recorded before the processor call; not yet answered
    UNKNOWN = "unknown"  # the call timed out: the janitor asks the processor
    SUCCEEDED = "succeeded"  # authorized (and captured when automatic)
    DECLINED = "declined"  # logical decline from the processor
    REQUIRES_ACTION = "requires_action"  # waiting on a 3-D Secure challenge
    FAILED = "failed"  # technical failure; the processor certainly did nothing


# Attempts still waiting for the processor's answer.
OPEN_ATTEMPT: Final = frozenset({AttemptStatus.PENDING.value, AttemptStatus.UNKNOWN.value})


class ChargeStatus(StrEnum):
    PENDING = "pending"  # outcome not known yet
    SUCCEEDED = "succeeded"  # authorized (captured or not: see ``captured``)
    FAILED = "failed"  # declined or failed


class RefundStatus(StrEnum):
    PENDING = "pending"  # sent to the processor, result not recorded yet
    SUCCEEDED = "succeeded"  # money returned
    FAILED = "failed"  # the processor refused the refund


# Allowed intent status transitions: the one table the service checks against.
INTENT_TRANSITIONS: dict[IntentStatus, frozenset[IntentStatus]] = {
    IntentStatus.REQUIRES_PAYMENT_METHOD: frozenset(
        {IntentStatus.REQUIRES_CONFIRMATION, IntentStatus.PROCESSING, IntentStatus.CANCELED}
    ),
    IntentStatus.REQUIRES_CONFIRMATION: frozenset(
        {IntentStatus.REQUIRES_PAYMENT_METHOD, IntentStatus.PROCESSING, IntentStatus.CANCELED}
    ),
    IntentStatus.PROCESSING: frozenset(
        {
            IntentStatus.REQUIRES_PAYMENT_METHOD,
            IntentStatus.REQUIRES_CONFIRMATION,
            IntentStatus.REQUIRES_ACTION,
            IntentStatus.REQUIRES_CAPTURE,
            IntentStatus.SUCCEEDED,
        }
    ),
    IntentStatus.REQUIRES_ACTION: frozenset(
        {
            IntentStatus.REQUIRES_PAYMENT_METHOD,
            IntentStatus.REQUIRES_CAPTURE,
            IntentStatus.SUCCEEDED,
            IntentStatus.CANCELED,
        }
    ),
    IntentStatus.REQUIRES_CAPTURE: frozenset({IntentStatus.SUCCEEDED, IntentStatus.CANCELED}),
    IntentStatus.CANCELED: frozenset(),
    IntentStatus.SUCCEEDED: frozenset(),
}

payment_intents = sa.Table(
    "payment_intents",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("merchant_id", sa.String(40), nullable=False, index=True),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("capture_method", sa.String(16), nullable=False),
    sa.Column("customer_id", sa.String(40), nullable=True, index=True),
    sa.Column("payment_method_id", sa.String(40), nullable=True),
    sa.Column("description", sa.String(1000), nullable=True),
    sa.Column("receipt_email", sa.String(512), nullable=True),
    sa.Column("statement_descriptor", sa.String(22), nullable=True),
    sa.Column("metadata", sa.JSON, nullable=False),
    sa.Column("amount_capturable", sa.BigInteger, nullable=False),
    sa.Column("amount_received", sa.BigInteger, nullable=False),
    sa.Column("latest_charge_id", sa.String(40), nullable=True),
    sa.Column("last_payment_error", sa.JSON, nullable=True),
    sa.Column("next_action", sa.JSON, nullable=True),
    sa.Column("return_url", sa.String(2000), nullable=True),
    sa.Column("canceled_at", sa.BigInteger, nullable=True),
    sa.Column("cancellation_reason", sa.String(40), nullable=True),
    sa.Column("client_secret", sa.String(100), nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False, index=True),
    # SmartPay extension: why the latest confirmation's processors were chosen
    # (routing.service.Decision.as_details plus each attempt's processor and outcome).
    sa.Column("routing", sa.JSON, nullable=True),
    # SmartPay extension: the latest confirmation's risk assessment (risk.service.Assessment
    # rendered: score, decision, reasons, model version) and its open or closed review.
    sa.Column("risk", sa.JSON, nullable=True),
    sa.Column("review_id", sa.String(40), nullable=True),
    # Stripe's payment_method_types as given at creation; NULL means ["card"].
    sa.Column("payment_method_types", sa.JSON, nullable=True),
)

charges = sa.Table(
    "charges",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("merchant_id", sa.String(40), nullable=False, index=True),
    sa.Column("payment_intent_id", sa.String(40), nullable=False, index=True),
    sa.Column("payment_method_id", sa.String(40), nullable=False),
    sa.Column("customer_id", sa.String(40), nullable=True),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("amount_captured", sa.BigInteger, nullable=False),
    sa.Column("amount_refunded", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("captured", sa.Boolean, nullable=False),
    sa.Column("failure_code", sa.String(64), nullable=True),
    sa.Column("failure_message", sa.String(500), nullable=True),
    sa.Column("outcome", sa.JSON, nullable=True),
    sa.Column("card", sa.JSON, nullable=False),
    sa.Column("processor", sa.String(40), nullable=False),
    sa.Column("processor_reference", sa.String(80), nullable=True),
    sa.Column("fee", sa.BigInteger, nullable=False),
    sa.Column("balance_transaction_id", sa.String(40), nullable=True),
    sa.Column("description", sa.String(1000), nullable=True),
    sa.Column("metadata", sa.JSON, nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),
)

# One row per processor call that moves money: authorize, capture, void, refund.
payment_attempts = sa.Table(
    "payment_attempts",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("merchant_id", sa.String(40), nullable=False, index=True),
    sa.Column("payment_intent_id", sa.String(40), nullable=False, index=True),
    sa.Column("charge_id", sa.String(40), nullable=True),
    sa.Column("operation", sa.String(16), nullable=False),
    sa.Column("processor", sa.String(40), nullable=False),
    # The processor-side idempotency key, derived from SmartPay ids: the authorization's
    # own id; "<authorization>:capture" / ":void" (one of each per authorization); the
    # refund's id. A retry of the same operation is therefore never processed twice.
    sa.Column("idempotency_key", sa.String(80), nullable=False, index=True),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("capture", sa.Boolean, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("processor_reference", sa.String(80), nullable=True),
    sa.Column("decline_code", sa.String(64), nullable=True),
    sa.Column("error_code", sa.String(64), nullable=True),
    sa.Column("fee", sa.BigInteger, nullable=False),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("finished_at", sa.Float, nullable=True),
    # Why this attempt's processor was chosen: rule, split, bandit scores, breaker states.
    sa.Column("routing", sa.JSON, nullable=True),
    # Processor webhooks and the 3-D Secure page find their attempt by the processor's
    # reference.
    sa.Index("ix_payment_attempts_processor_reference", "processor", "processor_reference"),
)

refunds = sa.Table(
    "refunds",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("merchant_id", sa.String(40), nullable=False, index=True),
    sa.Column("charge_id", sa.String(40), nullable=False, index=True),
    sa.Column("payment_intent_id", sa.String(40), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(40), nullable=True),
    sa.Column("failure_reason", sa.String(64), nullable=True),
    sa.Column("processor_reference", sa.String(80), nullable=True),
    sa.Column("balance_transaction_id", sa.String(40), nullable=True),
    sa.Column("metadata", sa.JSON, nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),
)
