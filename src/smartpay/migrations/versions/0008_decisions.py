"""AI consensus decisions and votes

Decisions with their votes, the actions they ran (once per subject) and each merchant's
decision policy (strategy and weights).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 00:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "decision_actions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("decision_id", sa.String(length=40), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decision_actions")),
        sa.UniqueConstraint("merchant_id", "subject_id", "action", name="uq_decision_actions_once"),
    )
    with op.batch_alter_table("decision_actions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_decision_actions_decision_id"), ["decision_id"], unique=False
        )

    op.create_table(
        "decision_policies",
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("strategy", sa.String(length=32), nullable=True),
        sa.Column("weights", sa.JSON(), nullable=False),
        sa.Column("weights_source", sa.String(length=16), nullable=False),
        sa.Column("updated", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("merchant_id", name=op.f("pk_decision_policies")),
    )
    op.create_table(
        "decision_votes",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("decision_id", sa.String(length=40), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("voter", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("risk", sa.Float(), nullable=True),
        sa.Column("veto", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("rationale", sa.String(length=500), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decision_votes")),
    )
    with op.batch_alter_table("decision_votes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_decision_votes_decision_id"), ["decision_id"], unique=False
        )
        batch_op.create_index(
            "ix_decision_votes_merchant_voter", ["merchant_id", "voter"], unique=False
        )

    op.create_table(
        "decisions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("request_key", sa.String(length=255), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("strategy", sa.String(length=32), nullable=False),
        sa.Column("risk", sa.Float(), nullable=True),
        sa.Column("explanation", sa.String(length=500), nullable=False),
        sa.Column("escalated", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("valid_votes", sa.Integer(), nullable=False),
        sa.Column("abstentions", sa.Integer(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        sa.Column("ground_truth", sa.String(length=16), nullable=True),
        sa.Column("ground_truth_source", sa.String(length=64), nullable=True),
        sa.Column("ground_truth_at", sa.BigInteger(), nullable=True),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decisions")),
        sa.UniqueConstraint("merchant_id", "request_key", name="uq_decisions_request"),
    )
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_decisions_merchant_kind", ["merchant_id", "kind", "id"], unique=False
        )
        batch_op.create_index(
            "ix_decisions_merchant_subject", ["merchant_id", "subject_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.drop_index("ix_decisions_merchant_subject")
        batch_op.drop_index("ix_decisions_merchant_kind")

    op.drop_table("decisions")
    with op.batch_alter_table("decision_votes", schema=None) as batch_op:
        batch_op.drop_index("ix_decision_votes_merchant_voter")
        batch_op.drop_index(batch_op.f("ix_decision_votes_decision_id"))

    op.drop_table("decision_votes")
    op.drop_table("decision_policies")
    with op.batch_alter_table("decision_actions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_decision_actions_decision_id"))

    op.drop_table("decision_actions")
