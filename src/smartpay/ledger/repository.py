"""Every SQL statement of the ledger. Inserts and reads only: the journal is
append-only, so there is deliberately no update or delete here."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import sqlalchemy as sa

from smartpay.kit.db import Session, insert_if_absent
from smartpay.kit.pagination import ListParams, Page, fetch_page
from smartpay.ledger.models import (
    AccountCode,
    EntryKind,
    journal_entries,
    journal_lines,
    ledger_accounts,
)

# A line's signed effect, debit positive: summed per account it is a debit-normal balance.
_SIGNED = journal_lines.c.debit - journal_lines.c.credit


# --- accounts ----------------------------------------------------------------------------


_ACCOUNTS = sa.select(ledger_accounts.c.code, ledger_accounts.c.id).where(
    ledger_accounts.c.merchant_id == sa.bindparam("merchant_id"),
    ledger_accounts.c.currency == sa.bindparam("currency"),
    ledger_accounts.c.code.in_(sa.bindparam("codes", expanding=True)),
)


async def account_ids(
    session: Session, merchant_id: str, currency: str, codes: Collection[AccountCode]
) -> dict[AccountCode, int]:
    parameters = {
        "merchant_id": merchant_id,
        "currency": currency,
        "codes": [code.value for code in codes],
    }
    return {AccountCode(row.code): row.id for row in await session.execute(_ACCOUNTS, parameters)}


async def account_ids_for_pairs(
    session: Session, pairs: Collection[tuple[str, str]], code: AccountCode
) -> dict[tuple[str, str], int]:
    """The ``code`` account of each (merchant_id, currency) pair that has one."""
    query = sa.select(
        ledger_accounts.c.merchant_id, ledger_accounts.c.currency, ledger_accounts.c.id
    ).where(
        ledger_accounts.c.code == code.value,
        sa.tuple_(ledger_accounts.c.merchant_id, ledger_accounts.c.currency).in_(list(pairs)),
    )
    return {(row.merchant_id, row.currency): row.id for row in await session.execute(query)}


async def insert_missing_accounts(session: Session, rows: list[dict[str, Any]]) -> None:
    """Creates the accounts that do not exist yet; concurrent creators of the same account
    both succeed (ON CONFLICT DO NOTHING). Rows go in key order so two transactions
    creating overlapping sets take their index locks in the same order: no deadlock."""
    if rows:
        ordered = sorted(rows, key=lambda r: (r["merchant_id"], r["currency"], r["code"]))
        await session.execute(insert_if_absent(ledger_accounts, ordered))


# --- writing entries ---------------------------------------------------------------------


async def insert_entry(
    session: Session, entry: dict[str, Any], lines: list[dict[str, Any]]
) -> None:
    """One entry and all its lines: two statements, the lines as one executemany."""
    await session.execute(sa.insert(journal_entries), [entry])
    await session.execute(sa.insert(journal_lines), lines)


async def insert_settlement_entries(session: Session, entries: list[dict[str, Any]]) -> set[str]:
    """Inserts settlement entries, skipping any whose capture is already settled (by a
    concurrent transaction too: PostgreSQL makes this wait for it). Returns the ids of
    the captures this call settled."""
    if not entries:
        return set()
    statement = insert_if_absent(journal_entries, entries).returning(
        journal_entries.c.settles_entry_id
    )
    return {row.settles_entry_id for row in await session.execute(statement)}


async def insert_lines(session: Session, lines: list[dict[str, Any]]) -> None:
    if lines:
        await session.execute(sa.insert(journal_lines), lines)


# --- settlement --------------------------------------------------------------------------


async def due_captures(session: Session, now: int, limit: int) -> list[sa.Row[Any]]:
    """Captures whose ``available_on`` has passed and that no settlement entry settles
    yet, with their net (credit to merchant_pending) and that account's id. A capture
    whose fee ate the whole amount has no merchant_pending line and nothing to settle."""
    settlement = journal_entries.alias("settlement")
    already = sa.exists().where(settlement.c.settles_entry_id == journal_entries.c.id)
    query = (
        sa.select(
            journal_entries.c.id,
            journal_entries.c.merchant_id,
            journal_entries.c.currency,
            journal_entries.c.reference_type,
            journal_entries.c.reference_id,
            journal_lines.c.account_id,
            sa.func.sum(journal_lines.c.credit - journal_lines.c.debit).label("net"),
        )
        .join(journal_lines, journal_lines.c.entry_id == journal_entries.c.id)
        .join(ledger_accounts, ledger_accounts.c.id == journal_lines.c.account_id)
        .where(
            journal_entries.c.kind == EntryKind.CAPTURE.value,
            journal_entries.c.available_on <= now,
            ledger_accounts.c.code == AccountCode.MERCHANT_PENDING.value,
            ~already,
        )
        .group_by(
            journal_entries.c.id,
            journal_entries.c.merchant_id,
            journal_entries.c.currency,
            journal_entries.c.reference_type,
            journal_entries.c.reference_id,
            journal_lines.c.account_id,
            journal_entries.c.available_on,
        )
        .order_by(journal_entries.c.available_on, journal_entries.c.id)
        .limit(limit)
    )
    return list((await session.execute(query)).all())


# --- reading -----------------------------------------------------------------------------


async def merchant_balances(
    session: Session, merchant_id: str, codes: Collection[AccountCode]
) -> list[sa.Row[Any]]:
    """(currency, code, debit_balance) of the merchant's ``codes`` accounts; an account
    without lines has balance 0."""
    query = (
        sa.select(
            ledger_accounts.c.currency,
            ledger_accounts.c.code,
            sa.func.coalesce(sa.func.sum(_SIGNED), 0).label("debit_balance"),
        )
        .select_from(ledger_accounts)
        .outerjoin(journal_lines, journal_lines.c.account_id == ledger_accounts.c.id)
        .where(
            ledger_accounts.c.merchant_id == merchant_id,
            ledger_accounts.c.code.in_([code.value for code in codes]),
        )
        .group_by(ledger_accounts.c.currency, ledger_accounts.c.code)
        .order_by(ledger_accounts.c.currency)
    )
    return list((await session.execute(query)).all())


async def get_entry(
    session: Session, merchant_id: str, entry_id: str, kinds: Collection[EntryKind]
) -> sa.Row[Any] | None:
    query = sa.select(journal_entries).where(
        journal_entries.c.id == entry_id,
        journal_entries.c.merchant_id == merchant_id,
        journal_entries.c.kind.in_([kind.value for kind in kinds]),
    )
    return (await session.execute(query)).first()


async def page_entries(
    session: Session, merchant_id: str, kinds: Collection[EntryKind], params: ListParams
) -> Page:
    where = [
        journal_entries.c.merchant_id == merchant_id,
        journal_entries.c.kind.in_([kind.value for kind in kinds]),
    ]
    return await fetch_page(session, journal_entries, params, where)


async def line_sums(session: Session, entry_ids: Sequence[str]) -> list[sa.Row[Any]]:
    """(entry_id, code, debit_balance) per entry and account code, for rendering."""
    if not entry_ids:
        return []
    query = (
        sa.select(
            journal_lines.c.entry_id,
            ledger_accounts.c.code,
            sa.func.sum(_SIGNED).label("debit_balance"),
        )
        .join(ledger_accounts, ledger_accounts.c.id == journal_lines.c.account_id)
        .where(journal_lines.c.entry_id.in_(list(entry_ids)))
        .group_by(journal_lines.c.entry_id, ledger_accounts.c.code)
    )
    return list((await session.execute(query)).all())


# --- verification (full scans: an audit, not a hot path) ---------------------------------


async def unbalanced_entries(session: Session) -> list[sa.Row[Any]]:
    debit = sa.func.sum(journal_lines.c.debit)
    credit = sa.func.sum(journal_lines.c.credit)
    query = (
        sa.select(journal_lines.c.entry_id, debit.label("debit"), credit.label("credit"))
        .group_by(journal_lines.c.entry_id)
        .having(debit != credit)
        .order_by(journal_lines.c.entry_id)
    )
    return list((await session.execute(query)).all())


async def entries_without_lines(session: Session) -> list[str]:
    query = (
        sa.select(journal_entries.c.id)
        .outerjoin(journal_lines, journal_lines.c.entry_id == journal_entries.c.id)
        .where(journal_lines.c.id.is_(None))
        .order_by(journal_entries.c.id)
    )
    return list((await session.execute(query)).scalars())


async def lines_with_bad_amounts(session: Session) -> list[sa.Row[Any]]:
    """Lines that are not exactly one positive side (the CHECK constraint's rule)."""
    lines = journal_lines.c
    good = sa.or_(
        sa.and_(lines.debit > 0, lines.credit == 0), sa.and_(lines.debit == 0, lines.credit > 0)
    )
    query = sa.select(lines.id, lines.entry_id, lines.debit, lines.credit).where(~good)
    return list((await session.execute(query)).all())


async def lines_with_bad_accounts(session: Session) -> list[sa.Row[Any]]:
    """Lines whose account is missing or belongs to another merchant or currency than
    their entry."""
    query = (
        sa.select(
            journal_lines.c.id,
            journal_lines.c.entry_id,
            journal_lines.c.account_id,
            journal_entries.c.merchant_id.label("entry_merchant"),
            journal_entries.c.currency.label("entry_currency"),
            ledger_accounts.c.merchant_id.label("account_merchant"),
            ledger_accounts.c.currency.label("account_currency"),
        )
        .select_from(journal_lines)
        .outerjoin(journal_entries, journal_entries.c.id == journal_lines.c.entry_id)
        .outerjoin(ledger_accounts, ledger_accounts.c.id == journal_lines.c.account_id)
        .where(
            sa.or_(
                journal_entries.c.id.is_(None),
                ledger_accounts.c.id.is_(None),
                ledger_accounts.c.merchant_id != journal_entries.c.merchant_id,
                ledger_accounts.c.currency != journal_entries.c.currency,
            )
        )
        .order_by(journal_lines.c.id)
    )
    return list((await session.execute(query)).all())


async def account_totals(session: Session) -> list[sa.Row[Any]]:
    """Every account with its debit and credit totals (0 when it has no lines)."""
    query = (
        sa.select(
            ledger_accounts.c.id,
            ledger_accounts.c.merchant_id,
            ledger_accounts.c.currency,
            ledger_accounts.c.code,
            ledger_accounts.c.normal_side,
            sa.func.coalesce(sa.func.sum(journal_lines.c.debit), 0).label("debit"),
            sa.func.coalesce(sa.func.sum(journal_lines.c.credit), 0).label("credit"),
        )
        .select_from(ledger_accounts)
        .outerjoin(journal_lines, journal_lines.c.account_id == ledger_accounts.c.id)
        .group_by(
            ledger_accounts.c.id,
            ledger_accounts.c.merchant_id,
            ledger_accounts.c.currency,
            ledger_accounts.c.code,
            ledger_accounts.c.normal_side,
        )
        .order_by(ledger_accounts.c.merchant_id, ledger_accounts.c.currency)
    )
    return list((await session.execute(query)).all())


async def unsettled_capture_nets(session: Session) -> list[sa.Row[Any]]:
    """Per (merchant_id, currency): the summed merchant_pending effect (credit - debit) of
    captures no settlement entry settles yet. It must equal merchant_pending's balance."""
    settlement = journal_entries.alias("settlement")
    already = sa.exists().where(settlement.c.settles_entry_id == journal_entries.c.id)
    query = (
        sa.select(
            journal_entries.c.merchant_id,
            journal_entries.c.currency,
            sa.func.sum(journal_lines.c.credit - journal_lines.c.debit).label("net"),
        )
        .join(journal_lines, journal_lines.c.entry_id == journal_entries.c.id)
        .join(ledger_accounts, ledger_accounts.c.id == journal_lines.c.account_id)
        .where(
            journal_entries.c.kind == EntryKind.CAPTURE.value,
            ledger_accounts.c.code == AccountCode.MERCHANT_PENDING.value,
            ~already,
        )
        .group_by(journal_entries.c.merchant_id, journal_entries.c.currency)
    )
    return list((await session.execute(query)).all())


async def settlement_mismatches(session: Session) -> list[sa.Row[Any]]:
    """Settlement entries that do not settle a capture of the same merchant and currency."""
    settled = journal_entries.alias("settled")
    query = (
        sa.select(
            journal_entries.c.id,
            journal_entries.c.settles_entry_id,
            settled.c.kind.label("settled_kind"),
        )
        .select_from(journal_entries)
        .outerjoin(settled, settled.c.id == journal_entries.c.settles_entry_id)
        .where(
            journal_entries.c.kind == EntryKind.SETTLEMENT.value,
            sa.or_(
                settled.c.id.is_(None),
                settled.c.kind != EntryKind.CAPTURE.value,
                settled.c.merchant_id != journal_entries.c.merchant_id,
                settled.c.currency != journal_entries.c.currency,
            ),
        )
        .order_by(journal_entries.c.id)
    )
    return list((await session.execute(query)).all())


# --- one payment's entries (read-only, for the dashboard's timeline) ---------------------


async def entries_for_references(
    session: Session, merchant_id: str, reference_ids: Sequence[str]
) -> list[sa.Row[Any]]:
    """The merchant's entries about these charges, refunds or transfers, oldest first."""
    if not reference_ids:
        return []
    query = (
        sa.select(journal_entries)
        .where(
            journal_entries.c.merchant_id == merchant_id,
            journal_entries.c.reference_id.in_(list(reference_ids)),
        )
        .order_by(journal_entries.c.id)
    )
    return list((await session.execute(query)).all())


async def lines_of_entries(session: Session, entry_ids: Sequence[str]) -> list[sa.Row[Any]]:
    """(entry_id, code, debit, credit) for each line of these entries, in line order."""
    if not entry_ids:
        return []
    query = (
        sa.select(
            journal_lines.c.entry_id,
            ledger_accounts.c.code,
            journal_lines.c.debit,
            journal_lines.c.credit,
        )
        .join(ledger_accounts, ledger_accounts.c.id == journal_lines.c.account_id)
        .where(journal_lines.c.entry_id.in_(list(entry_ids)))
        .order_by(journal_lines.c.id)
    )
    return list((await session.execute(query)).all())
