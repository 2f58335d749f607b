"""ACH tables: bank accounts behind ``us_bank_account`` payment methods, their
authorizations (mandates), transfers (debits and payouts), the batches and files they
travel in, ingested return/NOC files, and the cost of every payment and transfer.

Account numbers are never stored here: they are in the vault (``payment_methods``'s
``vault_token``); only the last four digits are.
"""

from __future__ import annotations

from enum import StrEnum

import sqlalchemy as sa

from smartpay.kit.db import metadata

# The ``processor`` of the charge behind a PaymentIntent paid by ACH debit: the money
# moves through SmartPay's own NACHA files, not through a card connector.
ACH_PROCESSOR = "ach"


class AccountType(StrEnum):
    CHECKING = "checking"
    SAVINGS = "savings"


class AccountHolderType(StrEnum):
    INDIVIDUAL = "individual"
    COMPANY = "company"


class SecCode(StrEnum):
    PPD = "PPD"  # prearranged payment, consumer account, written/signed authorization
    CCD = "CCD"  # corporate account (company holder)
    WEB = "WEB"  # consumer account, authorized over the internet


class Direction(StrEnum):
    DEBIT = "debit"  # we collect from the account (ach_debit)
    CREDIT = "credit"  # we pay into the account (payout)


class Speed(StrEnum):
    STANDARD = "standard"  # next-business-day settlement
    SAME_DAY = "same_day"  # same-day ACH window, if the entry is within NACHA's limit


class TransferStatus(StrEnum):
    INITIATED = "initiated"  # accepted, funds pending in the ledger, waiting for a batch
    BATCHED = "batched"  # placed in a batch and file, the file not handed to the ODFI yet
    SUBMITTED = "submitted"  # the file was written to the outbox for the ODFI
    SETTLED = "settled"  # settled with no return received (a late return may still come)
    RETURNED = "returned"  # terminal: the receiving bank returned it; ledger reversed
    FAILED = "failed"  # terminal: never sent (canceled or refused); ledger reversed


# The one transition table of transfers; tests walk every pair.
TRANSFER_TRANSITIONS: dict[TransferStatus, frozenset[TransferStatus]] = {
    TransferStatus.INITIATED: frozenset({TransferStatus.BATCHED, TransferStatus.FAILED}),
    TransferStatus.BATCHED: frozenset({TransferStatus.SUBMITTED, TransferStatus.FAILED}),
    TransferStatus.SUBMITTED: frozenset({TransferStatus.SETTLED, TransferStatus.RETURNED}),
    # NACHA allows returns after settlement (2 banking days; R10 and similar 60 days).
    TransferStatus.SETTLED: frozenset({TransferStatus.RETURNED}),
    TransferStatus.RETURNED: frozenset(),
    TransferStatus.FAILED: frozenset(),
}


class FileStatus(StrEnum):
    PENDING = "pending"  # rows committed, the file not written to the outbox yet
    WRITTEN = "written"  # written (validated) to the outbox: submitted to the ODFI


class MandateStatus(StrEnum):
    ACTIVE = "active"  # debits may be originated under it
    INACTIVE = "inactive"  # revoked (an R07/R10-type return), no more debits


ach_bank_accounts = sa.Table(
    "ach_bank_accounts",
    metadata,
    sa.Column("payment_method_id", sa.String(40), primary_key=True),
    sa.Column("merchant_id", sa.String(40), nullable=False, index=True),
    sa.Column("routing_number", sa.String(9), nullable=False),
    sa.Column("account_type", sa.String(16), nullable=False),
    sa.Column("account_holder_type", sa.String(16), nullable=False),
    sa.Column("account_holder_name", sa.String(256), nullable=True),
    sa.Column("bank_name", sa.String(100), nullable=True),
    sa.Column("mandate_id", sa.String(40), nullable=True),
    # Notifications of change applied to this account, newest last.
    sa.Column("changes", sa.JSON, nullable=False),
)

ach_mandates = sa.Table(
    "ach_mandates",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("merchant_id", sa.String(40), nullable=False, index=True),
    sa.Column("payment_method_id", sa.String(40), nullable=False, index=True),
    sa.Column("sec_code", sa.String(3), nullable=False),
    sa.Column("authorization_text", sa.String(5000), nullable=False),
    sa.Column("accepted_at", sa.BigInteger, nullable=False),
    sa.Column("acceptance_type", sa.String(16), nullable=False),
    sa.Column("ip_address", sa.String(64), nullable=True),
    sa.Column("user_agent", sa.String(500), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),
)

ach_transfers = sa.Table(
    "ach_transfers",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("merchant_id", sa.String(40), nullable=False, index=True),
    sa.Column("direction", sa.String(8), nullable=False),
    sa.Column("payment_method_id", sa.String(40), nullable=False),
    sa.Column("mandate_id", sa.String(40), nullable=True),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("sec_code", sa.String(3), nullable=False),
    sa.Column("odfi", sa.String(40), nullable=False),
    sa.Column("speed", sa.String(16), nullable=False),
    sa.Column("effective_date", sa.String(10), nullable=True),
    sa.Column("batch_id", sa.String(40), nullable=True, index=True),
    sa.Column("file_id", sa.String(40), nullable=True, index=True),
    sa.Column("trace_number", sa.String(15), nullable=True, index=True),
    sa.Column("return_code", sa.String(3), nullable=True),
    sa.Column("failure_message", sa.String(500), nullable=True),
    sa.Column("escrow_id", sa.String(40), nullable=True, index=True),
    # A debit that pays a PaymentIntent: its status drives the intent's and the charge's.
    sa.Column("payment_intent_id", sa.String(40), nullable=True, index=True),
    sa.Column("charge_id", sa.String(40), nullable=True),
    sa.Column("description", sa.String(1000), nullable=True),
    sa.Column("metadata", sa.JSON, nullable=False),
    sa.Column("fee", sa.BigInteger, nullable=True),
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("submitted_at", sa.BigInteger, nullable=True),
    sa.Column("settles_at", sa.BigInteger, nullable=True),
    sa.Column("settled_at", sa.BigInteger, nullable=True),
    sa.Column("returned_at", sa.BigInteger, nullable=True),
)

ach_files = sa.Table(
    "ach_files",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("odfi", sa.String(40), nullable=False),
    sa.Column("name", sa.String(120), nullable=False, unique=True),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("creation_date", sa.String(6), nullable=False),
    sa.Column("creation_time", sa.String(4), nullable=False),
    sa.Column("file_id_modifier", sa.String(1), nullable=False),
    sa.Column("batch_count", sa.Integer, nullable=False),
    sa.Column("entry_count", sa.Integer, nullable=False),
    sa.Column("total_debit", sa.BigInteger, nullable=False),
    sa.Column("total_credit", sa.BigInteger, nullable=False),
    sa.Column("fee", sa.BigInteger, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=True),
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("written_at", sa.BigInteger, nullable=True),
)

ach_batches = sa.Table(
    "ach_batches",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("file_id", sa.String(40), nullable=False, index=True),
    sa.Column("merchant_id", sa.String(40), nullable=False),
    sa.Column("batch_number", sa.Integer, nullable=False),
    sa.Column("sec_code", sa.String(3), nullable=False),
    sa.Column("company_identification", sa.String(10), nullable=False),
    sa.Column("company_name", sa.String(16), nullable=False),
    sa.Column("effective_date", sa.String(10), nullable=False),
    sa.Column("service_class_code", sa.Integer, nullable=False),
    sa.Column("entry_count", sa.Integer, nullable=False),
    sa.Column("fee", sa.BigInteger, nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),
)

# One row per ODFI: the next trace sequence number and when its last cycle ran.
ach_odfi_state = sa.Table(
    "ach_odfi_state",
    metadata,
    sa.Column("odfi", sa.String(40), primary_key=True),
    sa.Column("next_sequence", sa.BigInteger, nullable=False),
    sa.Column("last_cycle_at", sa.BigInteger, nullable=True),
)

# Return and NOC files ingested, by name: a file is applied once.
ach_return_files = sa.Table(
    "ach_return_files",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("returns", sa.Integer, nullable=False),
    sa.Column("notifications", sa.Integer, nullable=False),
    sa.Column("unmatched", sa.Integer, nullable=False),
    sa.Column("ingested_at", sa.BigInteger, nullable=False),
)

# The cost monitor: what each card charge and ACH transfer cost to process, and what
# Stripe's standard pricing would have charged for it.
processing_costs = sa.Table(
    "processing_costs",
    metadata,
    sa.Column("object_type", sa.String(16), primary_key=True),
    sa.Column("object_id", sa.String(40), primary_key=True),
    sa.Column("merchant_id", sa.String(40), nullable=False, index=True),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("actual_cost", sa.BigInteger, nullable=False),
    sa.Column("stripe_cost", sa.BigInteger, nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),
)
