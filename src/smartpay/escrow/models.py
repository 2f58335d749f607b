"""Escrow tables: one row per escrow and one per release or refund out of it."""

from __future__ import annotations

from enum import StrEnum

import sqlalchemy as sa

from smartpay.kit.db import metadata


class EscrowStatus(StrEnum):
    HOLDING = "holding"  # funds held, nothing released yet
    PARTIALLY_RELEASED = "partially_released"  # part released, the rest still held
    RELEASED = "released"  # terminal: everything held went to the provider
    DISPUTED = "disputed"  # frozen: no release until the dispute is resolved
    REFUNDED = "refunded"  # terminal: the dispute ended in a refund of what was held


class ReleaseCondition(StrEnum):
    DATE = "date"  # released by the worker once release_at has passed
    COMPLETION = "completion"  # released once completion is confirmed
    DATE_AND_COMPLETION = "date_and_completion"  # both of the above
    MANUAL = "manual"  # only POST /v1/escrows/{id}/release releases it


# The one transition table of escrows; tests walk every pair.
ESCROW_TRANSITIONS: dict[EscrowStatus, frozenset[EscrowStatus]] = {
    EscrowStatus.HOLDING: frozenset(
        {EscrowStatus.PARTIALLY_RELEASED, EscrowStatus.RELEASED, EscrowStatus.DISPUTED}
    ),
    EscrowStatus.PARTIALLY_RELEASED: frozenset(
        {EscrowStatus.PARTIALLY_RELEASED, EscrowStatus.RELEASED, EscrowStatus.DISPUTED}
    ),
    EscrowStatus.DISPUTED: frozenset({EscrowStatus.RELEASED, EscrowStatus.REFUNDED}),
    EscrowStatus.RELEASED: frozenset(),
    EscrowStatus.REFUNDED: frozenset(),
}

escrows = sa.Table(
    "escrows",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("merchant_id", sa.String(40), nullable=False, index=True),
    sa.Column("charge_id", sa.String(40), nullable=False, index=True),
    sa.Column("payment_intent_id", sa.String(40), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("amount_held", sa.BigInteger, nullable=False),
    sa.Column("amount_released", sa.BigInteger, nullable=False),
    sa.Column("amount_refunded", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(24), nullable=False, index=True),
    sa.Column("release_condition", sa.String(24), nullable=False),
    sa.Column("release_at", sa.BigInteger, nullable=True),
    sa.Column("completed_at", sa.BigInteger, nullable=True),
    sa.Column("destination_payment_method_id", sa.String(40), nullable=True),
    sa.Column("dispute_reason", sa.String(500), nullable=True),
    sa.Column("disputed_at", sa.BigInteger, nullable=True),
    sa.Column("refund_id", sa.String(40), nullable=True),
    sa.Column("metadata", sa.JSON, nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.CheckConstraint(
        "amount_released >= 0 AND amount_refunded >= 0 "
        "AND amount_released + amount_refunded <= amount_held",
        name="amounts_within_held",
    ),
)

escrow_movements = sa.Table(
    "escrow_movements",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("escrow_id", sa.String(40), nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),  # release | refund
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("payout_id", sa.String(40), nullable=True),
    sa.Column("refund_id", sa.String(40), nullable=True),
    sa.Column("created", sa.BigInteger, nullable=False),
)
