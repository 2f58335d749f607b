"""The sandbox processor's own books: what the "processor" recorded, one row per operation.

These rows model an external system. The sandbox writes them in its own short
transactions, independent of SmartPay's unit of work, so they survive a crash of the
SmartPay request that caused them, exactly as a real processor's records would.
No card number or CVC is ever stored here: only the last four digits.
"""

from __future__ import annotations

from enum import StrEnum

import sqlalchemy as sa

from smartpay.kit.db import BigIntPK, metadata


class ChallengeStatus(StrEnum):
    PENDING = "pending"  # 3-D Secure challenge shown, the customer has not answered yet
    SUCCEEDED = "succeeded"  # the customer authenticated: the authorization was approved
    FAILED = "failed"  # authentication failed: the authorization was declined


sandbox_records = sa.Table(
    "sandbox_records",
    metadata,
    sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
    # The sandbox profile name: several profiles share this table, each with its own books.
    sa.Column("processor", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),  # connectors.base.RecordKind
    sa.Column("idempotency_key", sa.String(255), nullable=False),
    sa.Column("processor_reference", sa.String(40), nullable=False, unique=True),
    # For capture/void/refund: the authorization's processor_reference.
    sa.Column("parent_reference", sa.String(40), nullable=True, index=True),
    sa.Column("status", sa.String(20), nullable=False),  # connectors.base.RecordStatus
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    # Authorizations: how much of the amount has been captured (at once or later).
    sa.Column("captured_amount", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("fee", sa.BigInteger, nullable=False, server_default="0"),
    # Authorizations: capture=True was requested (applied when a 3-D Secure challenge passes).
    sa.Column("capture_requested", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("challenge_status", sa.String(20), nullable=True),  # ChallengeStatus
    sa.Column("card_last4", sa.String(4), nullable=True),
    sa.Column("decline_code", sa.String(64), nullable=True),
    sa.Column("error_code", sa.String(64), nullable=True),  # failure code for capture/refund too
    sa.Column("message", sa.String(255), nullable=True),
    sa.Column("created", sa.BigInteger, nullable=False),  # unix seconds
    # One record per idempotency key and profile: what makes a replay return the first result.
    sa.UniqueConstraint("processor", "idempotency_key", name="uq_sandbox_records_processor_key"),
    sa.Index("ix_sandbox_records_processor_created", "processor", "created"),
)
