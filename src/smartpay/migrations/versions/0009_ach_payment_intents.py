"""ACH through PaymentIntents

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 00:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("payment_intents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payment_method_types", sa.JSON(), nullable=True))
    with op.batch_alter_table("ach_transfers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payment_intent_id", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("charge_id", sa.String(length=40), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_ach_transfers_payment_intent_id"), ["payment_intent_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("ach_transfers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ach_transfers_payment_intent_id"))
        batch_op.drop_column("charge_id")
        batch_op.drop_column("payment_intent_id")
    with op.batch_alter_table("payment_intents", schema=None) as batch_op:
        batch_op.drop_column("payment_method_types")
