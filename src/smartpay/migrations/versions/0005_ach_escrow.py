"""ACH and escrow

Bank accounts and mandates of us_bank_account payment methods, ACH transfers, batches,
files, ODFI state and ingested return files; escrows and their movements; the cost
monitor's processing_costs.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 21:50:38.906561
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ach_bank_accounts",
        sa.Column("payment_method_id", sa.String(length=40), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("routing_number", sa.String(length=9), nullable=False),
        sa.Column("account_type", sa.String(length=16), nullable=False),
        sa.Column("account_holder_type", sa.String(length=16), nullable=False),
        sa.Column("account_holder_name", sa.String(length=256), nullable=True),
        sa.Column("bank_name", sa.String(length=100), nullable=True),
        sa.Column("mandate_id", sa.String(length=40), nullable=True),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("payment_method_id", name=op.f("pk_ach_bank_accounts")),
    )
    with op.batch_alter_table("ach_bank_accounts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ach_bank_accounts_merchant_id"), ["merchant_id"], unique=False
        )

    op.create_table(
        "ach_batches",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("file_id", sa.String(length=40), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("batch_number", sa.Integer(), nullable=False),
        sa.Column("sec_code", sa.String(length=3), nullable=False),
        sa.Column("company_identification", sa.String(length=10), nullable=False),
        sa.Column("company_name", sa.String(length=16), nullable=False),
        sa.Column("effective_date", sa.String(length=10), nullable=False),
        sa.Column("service_class_code", sa.Integer(), nullable=False),
        sa.Column("entry_count", sa.Integer(), nullable=False),
        sa.Column("fee", sa.BigInteger(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ach_batches")),
    )
    with op.batch_alter_table("ach_batches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ach_batches_file_id"), ["file_id"], unique=False)

    op.create_table(
        "ach_files",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("odfi", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("creation_date", sa.String(length=6), nullable=False),
        sa.Column("creation_time", sa.String(length=4), nullable=False),
        sa.Column("file_id_modifier", sa.String(length=1), nullable=False),
        sa.Column("batch_count", sa.Integer(), nullable=False),
        sa.Column("entry_count", sa.Integer(), nullable=False),
        sa.Column("total_debit", sa.BigInteger(), nullable=False),
        sa.Column("total_credit", sa.BigInteger(), nullable=False),
        sa.Column("fee", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("written_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ach_files")),
        sa.UniqueConstraint("name", name=op.f("uq_ach_files_name")),
    )
    with op.batch_alter_table("ach_files", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ach_files_status"), ["status"], unique=False)

    op.create_table(
        "ach_mandates",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("payment_method_id", sa.String(length=40), nullable=False),
        sa.Column("sec_code", sa.String(length=3), nullable=False),
        sa.Column("authorization_text", sa.String(length=5000), nullable=False),
        sa.Column("accepted_at", sa.BigInteger(), nullable=False),
        sa.Column("acceptance_type", sa.String(length=16), nullable=False),
        sa.Column("ip_address", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=500), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ach_mandates")),
    )
    with op.batch_alter_table("ach_mandates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ach_mandates_merchant_id"), ["merchant_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_ach_mandates_payment_method_id"), ["payment_method_id"], unique=False
        )

    op.create_table(
        "ach_odfi_state",
        sa.Column("odfi", sa.String(length=40), nullable=False),
        sa.Column("next_sequence", sa.BigInteger(), nullable=False),
        sa.Column("last_cycle_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("odfi", name=op.f("pk_ach_odfi_state")),
    )
    op.create_table(
        "ach_return_files",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("returns", sa.Integer(), nullable=False),
        sa.Column("notifications", sa.Integer(), nullable=False),
        sa.Column("unmatched", sa.Integer(), nullable=False),
        sa.Column("ingested_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_ach_return_files")),
    )
    op.create_table(
        "ach_transfers",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("payment_method_id", sa.String(length=40), nullable=False),
        sa.Column("mandate_id", sa.String(length=40), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("sec_code", sa.String(length=3), nullable=False),
        sa.Column("odfi", sa.String(length=40), nullable=False),
        sa.Column("speed", sa.String(length=16), nullable=False),
        sa.Column("effective_date", sa.String(length=10), nullable=True),
        sa.Column("batch_id", sa.String(length=40), nullable=True),
        sa.Column("file_id", sa.String(length=40), nullable=True),
        sa.Column("trace_number", sa.String(length=15), nullable=True),
        sa.Column("return_code", sa.String(length=3), nullable=True),
        sa.Column("failure_message", sa.String(length=500), nullable=True),
        sa.Column("escrow_id", sa.String(length=40), nullable=True),
        sa.Column("description", sa.String(length=1000), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("fee", sa.BigInteger(), nullable=True),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("submitted_at", sa.BigInteger(), nullable=True),
        sa.Column("settles_at", sa.BigInteger(), nullable=True),
        sa.Column("settled_at", sa.BigInteger(), nullable=True),
        sa.Column("returned_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ach_transfers")),
    )
    with op.batch_alter_table("ach_transfers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ach_transfers_batch_id"), ["batch_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ach_transfers_escrow_id"), ["escrow_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ach_transfers_file_id"), ["file_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_ach_transfers_merchant_id"), ["merchant_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_ach_transfers_status"), ["status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_ach_transfers_trace_number"), ["trace_number"], unique=False
        )

    op.create_table(
        "escrow_movements",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("escrow_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("payout_id", sa.String(length=40), nullable=True),
        sa.Column("refund_id", sa.String(length=40), nullable=True),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escrow_movements")),
    )
    with op.batch_alter_table("escrow_movements", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_escrow_movements_escrow_id"), ["escrow_id"], unique=False
        )

    op.create_table(
        "escrows",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("charge_id", sa.String(length=40), nullable=False),
        sa.Column("payment_intent_id", sa.String(length=40), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount_held", sa.BigInteger(), nullable=False),
        sa.Column("amount_released", sa.BigInteger(), nullable=False),
        sa.Column("amount_refunded", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("release_condition", sa.String(length=24), nullable=False),
        sa.Column("release_at", sa.BigInteger(), nullable=True),
        sa.Column("completed_at", sa.BigInteger(), nullable=True),
        sa.Column("destination_payment_method_id", sa.String(length=40), nullable=True),
        sa.Column("dispute_reason", sa.String(length=500), nullable=True),
        sa.Column("disputed_at", sa.BigInteger(), nullable=True),
        sa.Column("refund_id", sa.String(length=40), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "amount_released >= 0 AND amount_refunded >= 0 "
            "AND amount_released + amount_refunded <= amount_held",
            name=op.f("ck_escrows_amounts_within_held"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escrows")),
    )
    with op.batch_alter_table("escrows", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_escrows_charge_id"), ["charge_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_escrows_merchant_id"), ["merchant_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_escrows_status"), ["status"], unique=False)

    op.create_table(
        "processing_costs",
        sa.Column("object_type", sa.String(length=16), nullable=False),
        sa.Column("object_id", sa.String(length=40), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("actual_cost", sa.BigInteger(), nullable=False),
        sa.Column("stripe_cost", sa.BigInteger(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("object_type", "object_id", name=op.f("pk_processing_costs")),
    )
    with op.batch_alter_table("processing_costs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_processing_costs_merchant_id"), ["merchant_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("processing_costs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_processing_costs_merchant_id"))

    op.drop_table("processing_costs")
    with op.batch_alter_table("escrows", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_escrows_status"))
        batch_op.drop_index(batch_op.f("ix_escrows_merchant_id"))
        batch_op.drop_index(batch_op.f("ix_escrows_charge_id"))

    op.drop_table("escrows")
    with op.batch_alter_table("escrow_movements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_escrow_movements_escrow_id"))

    op.drop_table("escrow_movements")
    with op.batch_alter_table("ach_transfers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ach_transfers_trace_number"))
        batch_op.drop_index(batch_op.f("ix_ach_transfers_status"))
        batch_op.drop_index(batch_op.f("ix_ach_transfers_merchant_id"))
        batch_op.drop_index(batch_op.f("ix_ach_transfers_file_id"))
        batch_op.drop_index(batch_op.f("ix_ach_transfers_escrow_id"))
        batch_op.drop_index(batch_op.f("ix_ach_transfers_batch_id"))

    op.drop_table("ach_transfers")
    op.drop_table("ach_return_files")
    op.drop_table("ach_odfi_state")
    with op.batch_alter_table("ach_mandates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ach_mandates_payment_method_id"))
        batch_op.drop_index(batch_op.f("ix_ach_mandates_merchant_id"))

    op.drop_table("ach_mandates")
    with op.batch_alter_table("ach_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ach_files_status"))

    op.drop_table("ach_files")
    with op.batch_alter_table("ach_batches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ach_batches_file_id"))

    op.drop_table("ach_batches")
    with op.batch_alter_table("ach_bank_accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ach_bank_accounts_merchant_id"))

    op.drop_table("ach_bank_accounts")
