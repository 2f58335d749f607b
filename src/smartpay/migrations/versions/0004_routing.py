"""smart routing

Per-merchant routing configurations, the shared routing statistics and circuit breakers,
and the routing details of payment intents and attempts.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 22:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "routing_configs",
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("updated", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("merchant_id", name=op.f("pk_routing_configs")),
    )
    op.create_table(
        "routing_stats",
        sa.Column("processor", sa.String(length=64), nullable=False),
        sa.Column("segment", sa.String(length=120), nullable=False),
        sa.Column("successes", sa.Float(), nullable=False),
        sa.Column("failures", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("latency_samples", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("processor", "segment", name=op.f("pk_routing_stats")),
    )
    op.create_table(
        "routing_breakers",
        sa.Column("processor", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("changed_at", sa.Float(), nullable=False),
        sa.Column("window_start", sa.Float(), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("previous_calls", sa.Integer(), nullable=False),
        sa.Column("previous_failures", sa.Integer(), nullable=False),
        sa.Column("probe_successes", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("processor", name=op.f("pk_routing_breakers")),
    )
    with op.batch_alter_table("payment_intents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("routing", sa.JSON(), nullable=True))
    with op.batch_alter_table("payment_attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("routing", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("payment_attempts", schema=None) as batch_op:
        batch_op.drop_column("routing")
    with op.batch_alter_table("payment_intents", schema=None) as batch_op:
        batch_op.drop_column("routing")
    op.drop_table("routing_breakers")
    op.drop_table("routing_stats")
    op.drop_table("routing_configs")
