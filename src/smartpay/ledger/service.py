"""The double-entry ledger: balanced journal entries for every movement of money, the
merchant balance and balance transactions derived from them, and ``verify``.

Accounts (models.AccountCode) exist per (merchant, currency) and are created on first
use. The entries the payment flows write, with D = debit and C = credit:

    authorization   D card_holds A              C card_holds_offset A
    release         D card_holds_offset A       C card_holds A
    capture         D processor_receivable A    C processing_fees F
                                                C merchant_pending A - F
                    (+ the release of the hold, when there was one, in the same entry)
    refund          D merchant_available R      C processor_receivable R
    settlement      D merchant_pending N        C merchant_available N   (N = capture net)

So the merchant's share of a capture is amount - fee, pending until its ``available_on``
and available after ``settle_due`` has run. Refunds are taken from the available balance
(as Stripe does), whether or not the charge has settled, and the balance may go negative
until later captures settle; the fee is not returned on a refund. Holds live on a memo
pair that never touches real money.

The ledger trusts its callers' arguments: a bad amount or an unbalanced entry is a
programming error (``LedgerError``), never a message for an API user.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from smartpay.errors import InvalidRequest
from smartpay.kit.clock import now as clock_now
from smartpay.kit.db import Session
from smartpay.kit.ids import new_id
from smartpay.kit.money import SUPPORTED_CURRENCIES
from smartpay.kit.pagination import DEFAULT_LIMIT, MAX_LIMIT, ListParams
from smartpay.ledger import repository
from smartpay.ledger.models import (
    NORMAL_SIDE,
    AccountCode,
    EntryKind,
    ReferenceType,
    Side,
)

# Entries shown as Stripe balance transactions, and the ``type`` each is shown as.
BALANCE_TRANSACTION_TYPES: dict[EntryKind, str] = {
    EntryKind.CAPTURE: "charge",
    EntryKind.REFUND: "refund",
}
BALANCE_TRANSACTION_PREFIX = "txn"  # Stripe's prefix for balance transactions
ENTRY_PREFIX = "je"  # every other journal entry

# How many matured captures one settle_due call settles. Bounds the size of one
# transaction; the worker calls settle_due every round, so a backlog drains over rounds.
SETTLE_BATCH_SIZE = 500

# Stripe labels the processing fee of a charge this way in ``fee_details``.
FEE_DETAIL_TYPE = "stripe_fee"
FEE_DETAIL_DESCRIPTION = "Processing fees"

_KNOWN_CODES = frozenset(code.value for code in AccountCode)


class LedgerError(ValueError):
    """The ledger was called wrongly (unknown currency, negative fee): a programming
    error in the caller, never the result of user input."""


class LedgerImbalance(LedgerError):
    """An entry whose debits differ from its credits, or with a line that is not a
    positive whole number of minor units. Nothing was written."""


@dataclass(frozen=True, slots=True)
class Posting:
    """One line of an entry: ``amount`` (> 0, minor units) on one side of one account."""

    account: AccountCode
    side: Side
    amount: int


def debit(account: AccountCode, amount: int) -> Posting:
    return Posting(account, Side.DEBIT, amount)


def credit(account: AccountCode, amount: int) -> Posting:
    return Posting(account, Side.CREDIT, amount)


def _signed(account: AccountCode, debit_amount: int) -> list[Posting]:
    """A posting of a signed amount (positive = debit), or none when it is zero."""
    if debit_amount > 0:
        return [debit(account, debit_amount)]
    if debit_amount < 0:
        return [credit(account, -debit_amount)]
    return []


def _check_balanced(postings: Sequence[Posting]) -> None:
    if len(postings) < 2:
        raise LedgerImbalance(f"an entry needs at least two lines, got {len(postings)}")
    for posting in postings:
        amount = posting.amount
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            raise LedgerImbalance(
                f"line amounts are positive integers of minor units, got {amount!r} "
                f"on {posting.account.value}"
            )
    debits = sum(p.amount for p in postings if p.side is Side.DEBIT)
    credits = sum(p.amount for p in postings if p.side is Side.CREDIT)
    if debits != credits:
        raise LedgerImbalance(f"debits {debits} != credits {credits}")


def _check_currency(currency: str) -> None:
    if currency not in SUPPORTED_CURRENCIES:
        raise LedgerError(f"unsupported or non-normalized currency {currency!r}")


async def _accounts(
    session: Session, merchant_id: str, currency: str, codes: Collection[AccountCode]
) -> dict[AccountCode, int]:
    """Ids of the merchant's accounts, creating the missing ones (race-safe)."""
    ids = await repository.account_ids(session, merchant_id, currency, codes)
    missing = [code for code in codes if code not in ids]
    if missing:
        created = clock_now()
        await repository.insert_missing_accounts(
            session,
            [
                {
                    "merchant_id": merchant_id,
                    "currency": currency,
                    "code": code.value,
                    "normal_side": NORMAL_SIDE[code].value,
                    "created": created,
                }
                for code in missing
            ],
        )
        ids.update(await repository.account_ids(session, merchant_id, currency, missing))
    return ids


async def post_entry(
    session: Session,
    *,
    merchant_id: str,
    currency: str,
    kind: EntryKind,
    postings: Sequence[Posting],
    reference_type: ReferenceType | None = None,
    reference_id: str | None = None,
    description: str | None = None,
    available_on: int | None = None,
) -> str:
    """Writes one balanced entry and returns its id (``txn_…`` for balance transactions,
    ``je_…`` otherwise). Raises ``LedgerImbalance`` before writing anything if debits
    differ from credits or a line is not positive. Statements: account lookup, entry,
    lines (plus an insert and a lookup the first time an account is used)."""
    _check_currency(currency)
    _check_balanced(postings)
    if kind is EntryKind.SETTLEMENT:
        raise LedgerError("settlement entries are written by settle_due only")
    account_ids = await _accounts(session, merchant_id, currency, {p.account for p in postings})
    created = clock_now()
    prefix = BALANCE_TRANSACTION_PREFIX if kind in BALANCE_TRANSACTION_TYPES else ENTRY_PREFIX
    entry_id = new_id(prefix)
    entry = {
        "id": entry_id,
        "merchant_id": merchant_id,
        "currency": currency,
        "kind": kind.value,
        "reference_type": reference_type.value if reference_type else None,
        "reference_id": reference_id,
        "settles_entry_id": None,
        "description": description,
        "created": created,
        "available_on": created if available_on is None else available_on,
    }
    lines = [
        {
            "entry_id": entry_id,
            "account_id": account_ids[p.account],
            "debit": p.amount if p.side is Side.DEBIT else 0,
            "credit": p.amount if p.side is Side.CREDIT else 0,
        }
        for p in postings
    ]
    await repository.insert_entry(session, entry, lines)
    return entry_id


# --- business operations: one balanced entry each ----------------------------------------


def _hold_release(amount: int) -> list[Posting]:
    return [
        debit(AccountCode.CARD_HOLDS_OFFSET, amount),
        credit(AccountCode.CARD_HOLDS, amount),
    ]


async def record_authorization(
    session: Session, *, merchant_id: str, currency: str, amount: int, reference_id: str
) -> str:
    """A card hold of ``amount`` for the charge ``reference_id``."""
    return await post_entry(
        session,
        merchant_id=merchant_id,
        currency=currency,
        kind=EntryKind.AUTHORIZATION,
        postings=[
            debit(AccountCode.CARD_HOLDS, amount),
            credit(AccountCode.CARD_HOLDS_OFFSET, amount),
        ],
        reference_type=ReferenceType.CHARGE,
        reference_id=reference_id,
    )


async def release_authorization(
    session: Session,
    *,
    merchant_id: str,
    currency: str,
    amount: int,
    reference_id: str | None,
) -> str:
    """Releases ``amount`` of a hold without capturing it (void, cancel, expiry)."""
    return await post_entry(
        session,
        merchant_id=merchant_id,
        currency=currency,
        kind=EntryKind.AUTHORIZATION_RELEASE,
        postings=_hold_release(amount),
        reference_type=ReferenceType.CHARGE if reference_id else None,
        reference_id=reference_id,
    )


async def record_capture(
    session: Session,
    *,
    merchant_id: str,
    currency: str,
    amount: int,
    fee: int,
    reference_id: str,
    available_on: int,
    release_hold: int = 0,
    description: str | None = None,
) -> str:
    """``amount`` captured on the charge ``reference_id``, of which the processor keeps
    ``fee``; the merchant's ``amount - fee`` is pending until ``available_on``.
    ``release_hold`` is the whole hold this capture ends (the captured part and any
    uncaptured remainder of a partial capture); 0 when nothing was held (automatic
    capture). Returns the balance transaction id."""
    if fee < 0:
        raise LedgerError(f"a fee cannot be negative, got {fee}")
    if release_hold < 0:
        raise LedgerError(f"release_hold cannot be negative, got {release_hold}")
    postings = [
        debit(AccountCode.PROCESSOR_RECEIVABLE, amount),
        *_signed(AccountCode.PROCESSING_FEES, -fee),
        # Normally a credit of amount - fee; a debit only if a fee exceeded the amount.
        *_signed(AccountCode.MERCHANT_PENDING, fee - amount),
    ]
    if release_hold:
        postings += _hold_release(release_hold)
    return await post_entry(
        session,
        merchant_id=merchant_id,
        currency=currency,
        kind=EntryKind.CAPTURE,
        postings=postings,
        reference_type=ReferenceType.CHARGE,
        reference_id=reference_id,
        description=description,
        available_on=available_on,
    )


async def record_refund(
    session: Session,
    *,
    merchant_id: str,
    currency: str,
    amount: int,
    reference_id: str,
    description: str | None = None,
) -> str:
    """``amount`` returned to the customer for the refund ``reference_id``: taken from
    the merchant's available balance (which may go negative) and from what the processor
    owes us. Available at once. Returns the balance transaction id."""
    return await post_entry(
        session,
        merchant_id=merchant_id,
        currency=currency,
        kind=EntryKind.REFUND,
        postings=[
            debit(AccountCode.MERCHANT_AVAILABLE, amount),
            credit(AccountCode.PROCESSOR_RECEIVABLE, amount),
        ],
        reference_type=ReferenceType.REFUND,
        reference_id=reference_id,
        description=description,
    )


async def settle_due(session: Session, now: int, *, limit: int = SETTLE_BATCH_SIZE) -> int:
    """Moves the net of every capture whose ``available_on`` is at or before ``now``
    from merchant_pending to merchant_available, up to ``limit`` captures. Each
    settlement entry names the capture it settles under a unique constraint, so a
    capture is settled once however often, or however concurrently, this runs.
    Returns how many captures this call settled."""
    due = await repository.due_captures(session, now, limit)
    if not due:
        return 0
    pairs = {(row.merchant_id, row.currency) for row in due}
    available = await repository.account_ids_for_pairs(
        session, pairs, AccountCode.MERCHANT_AVAILABLE
    )
    missing = pairs - available.keys()
    created = clock_now()
    if missing:
        code = AccountCode.MERCHANT_AVAILABLE
        await repository.insert_missing_accounts(
            session,
            [
                {
                    "merchant_id": merchant_id,
                    "currency": currency,
                    "code": code.value,
                    "normal_side": NORMAL_SIDE[code].value,
                    "created": created,
                }
                for merchant_id, currency in missing
            ],
        )
        available.update(await repository.account_ids_for_pairs(session, missing, code))
    entries: list[dict[str, Any]] = []
    lines_by_capture: dict[str, list[dict[str, Any]]] = {}
    for row in due:
        entry_id = new_id(ENTRY_PREFIX)
        entries.append(
            {
                "id": entry_id,
                "merchant_id": row.merchant_id,
                "currency": row.currency,
                "kind": EntryKind.SETTLEMENT.value,
                "reference_type": row.reference_type,
                "reference_id": row.reference_id,
                "settles_entry_id": row.id,
                "description": None,
                "created": created,
                "available_on": created,
            }
        )
        net = int(row.net)  # > 0 unless a fee exceeded its capture
        pending_id, available_id = row.account_id, available[(row.merchant_id, row.currency)]
        lines_by_capture[row.id] = [
            {
                "entry_id": entry_id,
                "account_id": pending_id,
                "debit": max(net, 0),
                "credit": max(-net, 0),
            },
            {
                "entry_id": entry_id,
                "account_id": available_id,
                "debit": max(-net, 0),
                "credit": max(net, 0),
            },
        ]
    settled = await repository.insert_settlement_entries(session, entries)
    await repository.insert_lines(
        session, [line for capture_id in settled for line in lines_by_capture[capture_id]]
    )
    return len(settled)


# --- reading: balance and balance transactions -------------------------------------------


async def get_balance(session: Session, merchant_id: str) -> dict[str, Any]:
    """The merchant's balance in Stripe's ``/v1/balance`` shape, one amount per currency
    the merchant has used, derived from the lines of its merchant accounts."""
    rows = await repository.merchant_balances(
        session, merchant_id, [AccountCode.MERCHANT_AVAILABLE, AccountCode.MERCHANT_PENDING]
    )
    # Both are credit-normal: the balance is credits - debits.
    amounts: dict[str, dict[AccountCode, int]] = defaultdict(dict)
    for row in rows:
        amounts[row.currency][AccountCode(row.code)] = -int(row.debit_balance)
    currencies = sorted(amounts)
    return {
        "object": "balance",
        "available": [
            {"amount": amounts[c].get(AccountCode.MERCHANT_AVAILABLE, 0), "currency": c}
            for c in currencies
        ],
        "pending": [
            {"amount": amounts[c].get(AccountCode.MERCHANT_PENDING, 0), "currency": c}
            for c in currencies
        ],
        "livemode": False,
    }


def _render_transaction(entry: Any, sums: dict[AccountCode, int], at: int) -> dict[str, Any]:
    """A capture or refund entry as a Stripe balance transaction. ``sums`` holds the
    entry's debit-positive total per account."""
    amount = sums.get(AccountCode.PROCESSOR_RECEIVABLE, 0)
    fee = -sums.get(AccountCode.PROCESSING_FEES, 0)
    net = -(sums.get(AccountCode.MERCHANT_PENDING, 0) + sums.get(AccountCode.MERCHANT_AVAILABLE, 0))
    txn_type = BALANCE_TRANSACTION_TYPES[EntryKind(entry.kind)]
    fee_details = (
        [
            {
                "amount": fee,
                "application": None,
                "currency": entry.currency,
                "description": FEE_DETAIL_DESCRIPTION,
                "type": FEE_DETAIL_TYPE,
            }
        ]
        if fee
        else []
    )
    return {
        "id": entry.id,
        "object": "balance_transaction",
        "amount": amount,
        "available_on": entry.available_on,
        "created": entry.created,
        "currency": entry.currency,
        "description": entry.description,
        "exchange_rate": None,
        "fee": fee,
        "fee_details": fee_details,
        "net": net,
        "reporting_category": txn_type,
        "source": entry.reference_id,
        "status": "available" if entry.available_on <= at else "pending",
        "type": txn_type,
    }


async def _render_transactions(session: Session, entries: Sequence[Any]) -> list[dict[str, Any]]:
    sums: dict[str, dict[AccountCode, int]] = defaultdict(dict)
    for row in await repository.line_sums(session, [entry.id for entry in entries]):
        sums[row.entry_id][AccountCode(row.code)] = int(row.debit_balance)
    at = clock_now()
    return [_render_transaction(entry, sums[entry.id], at) for entry in entries]


def _kinds_of_type(txn_type: str | None) -> list[EntryKind]:
    if txn_type is None:
        return list(BALANCE_TRANSACTION_TYPES)
    kinds = [kind for kind, name in BALANCE_TRANSACTION_TYPES.items() if name == txn_type]
    if not kinds:
        supported = ", ".join(sorted(BALANCE_TRANSACTION_TYPES.values()))
        raise InvalidRequest(
            f"Invalid type {txn_type[:40]!r}: balance transactions here are one of {supported}.",
            param="type",
        )
    return kinds


async def list_balance_transactions(
    session: Session,
    merchant_id: str,
    limit: int = DEFAULT_LIMIT,
    starting_after: str | None = None,
    ending_before: str | None = None,
    type: str | None = None,  # Stripe's parameter name, shadowing the builtin here only
) -> tuple[list[dict[str, Any]], bool]:
    """The merchant's balance transactions, newest first, and whether more exist."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidRequest(f"limit must be between 1 and {MAX_LIMIT}.", param="limit")
    params = ListParams(limit=limit, starting_after=starting_after, ending_before=ending_before)
    page = await repository.page_entries(session, merchant_id, _kinds_of_type(type), params)
    return await _render_transactions(session, page.rows), page.has_more


async def get_balance_transaction(
    session: Session, merchant_id: str, txn_id: str
) -> dict[str, Any] | None:
    """One balance transaction, or None if there is none with this id for this merchant."""
    entry = await repository.get_entry(session, merchant_id, txn_id, BALANCE_TRANSACTION_TYPES)
    if entry is None:
        return None
    return (await _render_transactions(session, [entry]))[0]


# --- verification ------------------------------------------------------------------------


async def verify(session: Session) -> list[str]:
    """Every problem found in the ledger, as sentences; empty when all is well. Checks
    that each entry has lines and balances, that lines are one positive side of an
    account of their entry's merchant and currency, that debits equal credits per
    (merchant, currency) and per currency overall, that accounts have their code's normal
    side, that hold memo accounts mirror each other and never go below zero, that
    settlements settle captures, and that merchant_pending equals the nets of the
    captures not settled yet."""
    problems: list[str] = []
    for row in await repository.unbalanced_entries(session):
        problems.append(
            f"entry {row.entry_id} is unbalanced: debits {row.debit} != credits {row.credit}"
        )
    for entry_id in await repository.entries_without_lines(session):
        problems.append(f"entry {entry_id} has no lines")
    for row in await repository.lines_with_bad_amounts(session):
        problems.append(
            f"line {row.id} of entry {row.entry_id} is not one positive side: "
            f"debit {row.debit}, credit {row.credit}"
        )
    for row in await repository.lines_with_bad_accounts(session):
        if row.account_merchant is None:
            problems.append(f"line {row.id} references missing account {row.account_id}")
        elif row.entry_merchant is None:
            problems.append(f"line {row.id} references missing entry {row.entry_id}")
        else:
            problems.append(
                f"line {row.id} of entry {row.entry_id} ({row.entry_merchant} "
                f"{row.entry_currency}) posts to account {row.account_id} of "
                f"{row.account_merchant} {row.account_currency}"
            )
    for row in await repository.settlement_mismatches(session):
        problems.append(
            f"settlement {row.id} settles {row.settles_entry_id}, which is not a capture "
            "of the same merchant and currency"
        )

    by_pair: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    by_currency: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    balances: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    for row in await repository.account_totals(session):
        debits, credits = int(row.debit), int(row.credit)
        for totals in (by_pair[(row.merchant_id, row.currency)], by_currency[row.currency]):
            totals[0] += debits
            totals[1] += credits
        balances[(row.merchant_id, row.currency)][row.code] = debits - credits
        if row.code not in _KNOWN_CODES:
            problems.append(f"account {row.id} has unknown code {row.code!r}")
        elif row.normal_side != NORMAL_SIDE[AccountCode(row.code)].value:
            problems.append(
                f"account {row.id} ({row.code}) has normal side {row.normal_side!r}, "
                f"expected {NORMAL_SIDE[AccountCode(row.code)].value!r}"
            )
    for (merchant_id, currency), (debits, credits) in sorted(by_pair.items()):
        if debits != credits:
            problems.append(
                f"merchant {merchant_id} {currency}: debits {debits} != credits {credits}"
            )
    for currency, (debits, credits) in sorted(by_currency.items()):
        if debits != credits:
            problems.append(f"all merchants {currency}: debits {debits} != credits {credits}")

    unsettled = {
        (row.merchant_id, row.currency): int(row.net)
        for row in await repository.unsettled_capture_nets(session)
    }
    for (merchant_id, currency), accounts in sorted(balances.items()):
        holds = accounts.get(AccountCode.CARD_HOLDS.value, 0)
        offset = -accounts.get(AccountCode.CARD_HOLDS_OFFSET.value, 0)
        if holds < 0:
            problems.append(
                f"merchant {merchant_id} {currency}: card_holds is {holds}; more was "
                "released than held"
            )
        if holds != offset:
            problems.append(
                f"merchant {merchant_id} {currency}: card_holds {holds} does not mirror "
                f"card_holds_offset {offset}"
            )
        pending = -accounts.get(AccountCode.MERCHANT_PENDING.value, 0)
        expected = unsettled.get((merchant_id, currency), 0)
        if pending != expected:
            problems.append(
                f"merchant {merchant_id} {currency}: merchant_pending is {pending} but the "
                f"captures not settled yet net {expected}"
            )
    return problems
