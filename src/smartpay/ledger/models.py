"""The ledger's tables: accounts, journal entries and their lines.

Double-entry and append-only. Every entry belongs to one merchant and one currency and
has two or more lines; each line moves a positive amount to the debit *or* the credit
side of one account, and an entry's debits equal its credits. Nothing here is ever
updated or deleted: a correction is a new, reversing entry.

Storage of a line: two non-negative integer columns, ``debit`` and ``credit``, exactly
one of them non-zero (a CHECK constraint says so). Sums then need no CASE on a
direction column, and ``SUM(credit) - SUM(debit)`` is a credit-normal account's balance.

Balances are not cached: they are always derived from the lines, so there is nothing
to drift out of step.
"""

from __future__ import annotations

from enum import StrEnum

import sqlalchemy as sa

from smartpay.kit.db import BigIntPK, metadata


class Side(StrEnum):
    DEBIT = "debit"  # left side: increases assets (and memo holds), decreases liabilities
    CREDIT = "credit"  # right side: increases liabilities, decreases assets


class AccountCode(StrEnum):
    """The accounts every (merchant, currency) pair may have. Sign convention: an
    account's balance is positive on its normal side (``NORMAL_SIDE``)."""

    # asset: gross captured money the processor owes us, less refunds
    PROCESSOR_RECEIVABLE = "processor_receivable"
    # liability: the processor's fee on captures, netted from its payout to us; it is
    # what makes the merchant's share amount - fee
    PROCESSING_FEES = "processing_fees"
    # liability: merchant funds captured but not settled yet
    MERCHANT_PENDING = "merchant_pending"
    # liability: merchant funds settled and payable; refunds draw on it (may go negative)
    MERCHANT_AVAILABLE = "merchant_available"
    # memo asset: authorizations held on cards, neither captured nor released yet
    CARD_HOLDS = "card_holds"
    # memo contra of card_holds: the other side of every hold, so hold entries balance
    CARD_HOLDS_OFFSET = "card_holds_offset"
    # asset: ACH debits in flight: what the customers' banks owe us until settlement
    ACH_RECEIVABLE = "ach_receivable"
    # liability: the merchant's share of ACH debits in flight (available once settled)
    ACH_DEBITS_PENDING = "ach_debits_pending"
    # liability: ACH credits (payouts) in flight, owed to the receiving accounts
    ACH_PAYOUTS_PENDING = "ach_payouts_pending"
    # asset: the ODFI settlement account: settled ACH debits in, settled credits out
    ACH_SETTLEMENT = "ach_settlement"
    # liability: captured funds held in escrow until released or refunded
    ESCROW_HELD = "escrow_held"


NORMAL_SIDE: dict[AccountCode, Side] = {
    AccountCode.PROCESSOR_RECEIVABLE: Side.DEBIT,
    AccountCode.PROCESSING_FEES: Side.CREDIT,
    AccountCode.MERCHANT_PENDING: Side.CREDIT,
    AccountCode.MERCHANT_AVAILABLE: Side.CREDIT,
    AccountCode.CARD_HOLDS: Side.DEBIT,
    AccountCode.CARD_HOLDS_OFFSET: Side.CREDIT,
    AccountCode.ACH_RECEIVABLE: Side.DEBIT,
    AccountCode.ACH_DEBITS_PENDING: Side.CREDIT,
    AccountCode.ACH_PAYOUTS_PENDING: Side.CREDIT,
    AccountCode.ACH_SETTLEMENT: Side.DEBIT,
    AccountCode.ESCROW_HELD: Side.CREDIT,
}


class EntryKind(StrEnum):
    AUTHORIZATION = "authorization"  # a card hold placed (memo accounts only)
    AUTHORIZATION_RELEASE = "authorization_release"  # a hold released: void, cancel, remainder
    CAPTURE = "capture"  # customer money captured; a balance transaction of type "charge"
    REFUND = "refund"  # money returned to the customer; a balance transaction of type "refund"
    SETTLEMENT = "settlement"  # one capture's net moved from merchant_pending to merchant_available
    ACH_DEBIT = "ach_debit"  # an ACH debit initiated: receivable and pending, in flight
    ACH_DEBIT_SETTLED = "ach_debit_settled"  # in flight -> settlement account and available
    ACH_CREDIT = "ach_credit"  # an ACH credit (payout) initiated, funded, in flight
    ACH_CREDIT_SETTLED = "ach_credit_settled"  # a payout left the settlement account
    ACH_REVERSAL = "ach_reversal"  # a returned or failed ACH transfer undone
    ESCROW_HOLD = "escrow_hold"  # captured funds put in escrow
    ESCROW_RELEASE = "escrow_release"  # escrow released to the provider (payout or balance)
    ESCROW_REFUND = "escrow_refund"  # escrow returned to the balance for a customer refund


class ReferenceType(StrEnum):
    CHARGE = "charge"  # reference_id is a charge id (ch_…)
    REFUND = "refund"  # reference_id is a refund id (re_…)
    ACH_TRANSFER = "ach_transfer"  # reference_id is an ACH debit or payout id (achd_…, po_…)
    ESCROW = "escrow"  # reference_id is an escrow id (esc_…)


ledger_accounts = sa.Table(
    "ledger_accounts",
    metadata,
    sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
    sa.Column("merchant_id", sa.String(40), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("code", sa.String(40), nullable=False),
    sa.Column("normal_side", sa.String(6), nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),
    # Identity of an account; also what makes insert-if-missing race-safe.
    sa.UniqueConstraint("merchant_id", "currency", "code", name="uq_ledger_accounts_identity"),
)

journal_entries = sa.Table(
    "journal_entries",
    metadata,
    # "txn_…" for entries that are balance transactions (captures, refunds), "je_…" else.
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("merchant_id", sa.String(40), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("reference_type", sa.String(32), nullable=True),
    sa.Column("reference_id", sa.String(40), nullable=True, index=True),
    # Set on settlement entries only. Unique, so a capture is settled at most once even
    # when two workers race: the second insert conflicts and does nothing.
    sa.Column(
        "settles_entry_id",
        sa.String(40),
        sa.ForeignKey("journal_entries.id"),
        nullable=True,
        unique=True,
    ),
    sa.Column("description", sa.String(500), nullable=True),
    sa.Column("created", sa.BigInteger, nullable=False),
    # When the entry's money becomes available to the merchant (captures: after the
    # settlement delay; everything else: at creation).
    sa.Column("available_on", sa.BigInteger, nullable=False),
    sa.Index("ix_journal_entries_merchant_kind_id", "merchant_id", "kind", "id"),
    sa.Index("ix_journal_entries_kind_available_on", "kind", "available_on"),
)

journal_lines = sa.Table(
    "journal_lines",
    metadata,
    sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
    sa.Column(
        "entry_id", sa.String(40), sa.ForeignKey("journal_entries.id"), nullable=False, index=True
    ),
    sa.Column(
        "account_id",
        sa.BigInteger,
        sa.ForeignKey("ledger_accounts.id"),
        nullable=False,
        index=True,
    ),
    sa.Column("debit", sa.BigInteger, nullable=False),
    sa.Column("credit", sa.BigInteger, nullable=False),
    sa.CheckConstraint(
        "(debit > 0 AND credit = 0) OR (debit = 0 AND credit > 0)", name="one_positive_side"
    ),
)
