"""risk engine: feature aggregates, rules, lists, reviews, labels

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 00:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "risk_feature_state",
        sa.Column("key", sa.String(length=96), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_risk_feature_state")),
    )
    op.create_table(
        "risk_terminal_days",
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("transactions", sa.BigInteger(), nullable=False),
        sa.Column("frauds", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("merchant_id", "day", "shard", name=op.f("pk_risk_terminal_days")),
    )
    op.create_table(
        "risk_terminal_first_seen",
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("first_seen", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("merchant_id", name=op.f("pk_risk_terminal_first_seen")),
    )
    op.create_table(
        "risk_rules",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_rules")),
    )
    with op.batch_alter_table("risk_rules", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_risk_rules_merchant_id"), ["merchant_id"], unique=False
        )
    op.create_table(
        "risk_list_entries",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=320), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_list_entries")),
        sa.UniqueConstraint("merchant_id", "kind", "value", name="uq_risk_list_entries_value"),
    )
    op.create_table(
        "risk_reviews",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("payment_intent_id", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("capture_on_approve", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("closed_reason", sa.String(length=32), nullable=True),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("closed_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_reviews")),
    )
    with op.batch_alter_table("risk_reviews", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_risk_reviews_merchant_id"), ["merchant_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_risk_reviews_payment_intent_id"), ["payment_intent_id"], unique=False
        )
    op.create_table(
        "risk_labels",
        sa.Column("payment_intent_id", sa.String(length=40), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("is_fraud", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("payment_intent_id", name=op.f("pk_risk_labels")),
    )
    with op.batch_alter_table("risk_labels", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_risk_labels_merchant_id"), ["merchant_id"], unique=False
        )
    with op.batch_alter_table("payment_intents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("risk", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("review_id", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("payment_intents", schema=None) as batch_op:
        batch_op.drop_column("review_id")
        batch_op.drop_column("risk")
    op.drop_table("risk_labels")
    op.drop_table("risk_reviews")
    op.drop_table("risk_list_entries")
    op.drop_table("risk_rules")
    op.drop_table("risk_terminal_first_seen")
    op.drop_table("risk_terminal_days")
    op.drop_table("risk_feature_state")
