"""The ledger on a real database (SQLite, and PostgreSQL when configured): balanced
entries for each business operation, balances, settlement, balance transactions and
the verifier, including that it notices tampering."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa

from smartpay.errors import InvalidRequest
from smartpay.kit.clock import now
from smartpay.kit.db import Database
from smartpay.ledger import service as ledger
from smartpay.ledger.models import (
    AccountCode,
    EntryKind,
    journal_entries,
    journal_lines,
    ledger_accounts,
)
from smartpay.ledger.service import LedgerError, LedgerImbalance, credit, debit

M1 = "acct_merchant_one"
M2 = "acct_merchant_two"
DAY = 86_400
PAST = 1_000_000  # an available_on long gone
FUTURE = 4_000_000_000  # an available_on far ahead (year 2096)


async def entry_lines(db: Database, entry_id: str) -> dict[str, tuple[int, int]]:
    """{account code: (debit, credit)} of one entry."""
    async with db.transaction() as session:
        rows = await session.execute(
            sa.select(ledger_accounts.c.code, journal_lines.c.debit, journal_lines.c.credit)
            .join(ledger_accounts, ledger_accounts.c.id == journal_lines.c.account_id)
            .where(journal_lines.c.entry_id == entry_id)
        )
        out: dict[str, tuple[int, int]] = {}
        for row in rows:
            assert row.code not in out, "one line per account in these entries"
            out[row.code] = (row.debit, row.credit)
        return out


def balanced(lines: dict[str, tuple[int, int]]) -> bool:
    return sum(d for d, _ in lines.values()) == sum(c for _, c in lines.values())


async def verify(db: Database) -> list[str]:
    async with db.transaction() as session:
        return await ledger.verify(session)


async def balance(db: Database, merchant_id: str = M1) -> dict[str, Any]:
    async with db.transaction() as session:
        return await ledger.get_balance(session, merchant_id)


def amounts(balance_body: dict[str, Any], key: str) -> dict[str, int]:
    return {item["currency"]: item["amount"] for item in balance_body[key]}


async def capture(
    db: Database,
    amount: int,
    fee: int,
    *,
    merchant_id: str = M1,
    currency: str = "usd",
    available_on: int = FUTURE,
    release_hold: int = 0,
    charge_id: str = "ch_test",
) -> str:
    async with db.transaction() as session:
        return await ledger.record_capture(
            session,
            merchant_id=merchant_id,
            currency=currency,
            amount=amount,
            fee=fee,
            reference_id=charge_id,
            available_on=available_on,
            release_hold=release_hold,
        )


async def refund(db: Database, amount: int, *, merchant_id: str = M1, currency: str = "usd") -> str:
    async with db.transaction() as session:
        return await ledger.record_refund(
            session,
            merchant_id=merchant_id,
            currency=currency,
            amount=amount,
            reference_id="re_test",
        )


async def settle(db: Database, at: int) -> int:
    async with db.transaction() as session:
        return await ledger.settle_due(session, at)


# --- postings ----------------------------------------------------------------------------


async def test_capture_credits_merchant_net_and_records_fee(database: Database) -> None:
    txn_id = await capture(database, 1000, 59)

    assert txn_id.startswith("txn_")
    lines = await entry_lines(database, txn_id)
    assert lines == {
        "processor_receivable": (1000, 0),
        "processing_fees": (0, 59),
        "merchant_pending": (0, 941),
    }
    assert balanced(lines)
    body = await balance(database)
    assert amounts(body, "pending") == {"usd": 941}
    assert amounts(body, "available") == {"usd": 0}
    assert await verify(database) == []


async def test_authorization_partial_capture_and_release_of_remainder(
    database: Database,
) -> None:
    async with database.transaction() as session:
        auth_id = await ledger.record_authorization(
            session, merchant_id=M1, currency="usd", amount=1000, reference_id="ch_1"
        )
    assert auth_id.startswith("je_")
    assert await entry_lines(database, auth_id) == {
        "card_holds": (1000, 0),
        "card_holds_offset": (0, 1000),
    }
    assert await verify(database) == []

    # Capture 600 of the 1000 held; the capture releases the captured part, and the
    # uncaptured 400 is released on its own (as a flow that releases separately would).
    txn_id = await capture(database, 600, 20, release_hold=600, charge_id="ch_1")
    lines = await entry_lines(database, txn_id)
    assert lines == {
        "processor_receivable": (600, 0),
        "processing_fees": (0, 20),
        "merchant_pending": (0, 580),
        "card_holds_offset": (600, 0),
        "card_holds": (0, 600),
    }
    assert balanced(lines)
    async with database.transaction() as session:
        release_id = await ledger.release_authorization(
            session, merchant_id=M1, currency="usd", amount=400, reference_id="ch_1"
        )
    assert await entry_lines(database, release_id) == {
        "card_holds_offset": (400, 0),
        "card_holds": (0, 400),
    }
    assert await verify(database) == []
    assert amounts(await balance(database), "pending") == {"usd": 580}


async def test_capture_releasing_the_whole_hold_of_a_partial_capture(database: Database) -> None:
    async with database.transaction() as session:
        await ledger.record_authorization(
            session, merchant_id=M1, currency="usd", amount=1000, reference_id="ch_1"
        )
    # The flows pass the whole capturable amount: the remainder is released with it.
    txn_id = await capture(database, 250, 10, release_hold=1000)
    lines = await entry_lines(database, txn_id)
    assert lines["card_holds"] == (0, 1000)
    assert balanced(lines)
    assert await verify(database) == []


async def test_cancel_releases_the_hold(database: Database) -> None:
    async with database.transaction() as session:
        await ledger.record_authorization(
            session, merchant_id=M1, currency="eur", amount=700, reference_id="ch_1"
        )
        await ledger.release_authorization(
            session, merchant_id=M1, currency="eur", amount=700, reference_id="ch_1"
        )
    assert await verify(database) == []
    body = await balance(database)
    assert amounts(body, "pending") == {}  # holds are memo: no merchant money moved


async def test_refund_draws_on_available_balance(database: Database) -> None:
    await capture(database, 1000, 59, available_on=PAST)
    refund_id = await refund(database, 300)

    assert refund_id.startswith("txn_")
    lines = await entry_lines(database, refund_id)
    assert lines == {"merchant_available": (300, 0), "processor_receivable": (0, 300)}
    body = await balance(database)
    # Before settlement the available balance is negative, pending holds the net.
    assert amounts(body, "available") == {"usd": -300}
    assert amounts(body, "pending") == {"usd": 941}
    assert await settle(database, now()) == 1
    body = await balance(database)
    assert amounts(body, "available") == {"usd": 641}  # 1000 - 59 fee - 300 refunded
    assert amounts(body, "pending") == {"usd": 0}
    assert await verify(database) == []


async def test_fee_equal_to_amount_leaves_nothing_to_settle(database: Database) -> None:
    txn_id = await capture(database, 50, 50, available_on=PAST)
    assert await entry_lines(database, txn_id) == {
        "processor_receivable": (50, 0),
        "processing_fees": (0, 50),
    }
    assert await settle(database, now()) == 0
    assert await verify(database) == []


async def test_fee_above_amount_debits_the_merchant(database: Database) -> None:
    await capture(database, 30, 50, available_on=PAST)
    assert amounts(await balance(database), "pending") == {"usd": -20}
    assert await settle(database, now()) == 1
    body = await balance(database)
    assert amounts(body, "available") == {"usd": -20}
    assert amounts(body, "pending") == {"usd": 0}
    assert await verify(database) == []


# --- refusals ----------------------------------------------------------------------------


async def entry_count(db: Database) -> int:
    async with db.transaction() as session:
        count = await session.scalar(sa.select(sa.func.count()).select_from(journal_entries))
        return int(count or 0)


@pytest.mark.parametrize(
    "postings",
    [
        [debit(AccountCode.CARD_HOLDS, 100), credit(AccountCode.CARD_HOLDS_OFFSET, 99)],
        [debit(AccountCode.CARD_HOLDS, 0), credit(AccountCode.CARD_HOLDS_OFFSET, 0)],
        [debit(AccountCode.CARD_HOLDS, -5), credit(AccountCode.CARD_HOLDS_OFFSET, -5)],
        [debit(AccountCode.CARD_HOLDS, 100)],
        [],
    ],
    ids=["unequal", "zero", "negative", "one-line", "empty"],
)
async def test_unbalanced_or_non_positive_entries_are_refused(
    database: Database, postings: list[ledger.Posting]
) -> None:
    async with database.transaction() as session:
        with pytest.raises(LedgerImbalance):
            await ledger.post_entry(
                session,
                merchant_id=M1,
                currency="usd",
                kind=EntryKind.AUTHORIZATION,
                postings=postings,
            )
    assert await entry_count(database) == 0
    assert issubclass(LedgerImbalance, ValueError)


async def test_operations_refuse_bad_arguments(database: Database) -> None:
    async with database.transaction() as session:
        with pytest.raises(LedgerImbalance):
            await ledger.record_refund(
                session, merchant_id=M1, currency="usd", amount=0, reference_id="re_1"
            )
        with pytest.raises(LedgerError):
            await ledger.record_capture(
                session,
                merchant_id=M1,
                currency="usd",
                amount=100,
                fee=-1,
                reference_id="ch_1",
                available_on=FUTURE,
            )
        with pytest.raises(LedgerError):
            await ledger.record_authorization(
                session, merchant_id=M1, currency="USD", amount=100, reference_id="ch_1"
            )
    assert await entry_count(database) == 0


# --- verify ------------------------------------------------------------------------------


async def run_sequence(db: Database) -> None:
    for index, (currency, amount, fee) in enumerate(
        [("usd", 1000, 59), ("jpy", 5000, 180), ("bhd", 12_345, 370), ("usd", 2500, 103)]
    ):
        async with db.transaction() as session:
            await ledger.record_authorization(
                session,
                merchant_id=M1,
                currency=currency,
                amount=amount,
                reference_id=f"ch_{index}",
            )
        await capture(
            db, amount, fee, currency=currency, release_hold=amount, available_on=PAST + index
        )
    await refund(db, 400)
    await refund(db, 1000, currency="jpy")
    await capture(db, 800, 30, merchant_id=M2, available_on=FUTURE)


async def test_verify_is_clean_after_a_sequence_of_operations(database: Database) -> None:
    await run_sequence(database)
    assert await verify(database) == []
    assert await settle(database, now()) == 4
    assert await verify(database) == []


async def test_verify_reports_a_tampered_line(database: Database) -> None:
    await run_sequence(database)
    async with database.transaction() as session:
        line_id = await session.scalar(sa.select(sa.func.min(journal_lines.c.id)))
        await session.execute(
            sa.update(journal_lines)
            .where(journal_lines.c.id == line_id)
            .values(debit=journal_lines.c.debit + 1, credit=journal_lines.c.credit)
        )
    problems = await verify(database)
    assert any("is unbalanced" in p for p in problems), problems
    assert any(p.startswith(f"merchant {M1}") and "debits" in p for p in problems), problems
    assert any(p.startswith("all merchants") for p in problems), problems

    # Undoing the tampering makes the ledger clean again (and leaves it clean for any
    # check that runs after the test).
    async with database.transaction() as session:
        await session.execute(
            sa.update(journal_lines)
            .where(journal_lines.c.id == line_id)
            .values(debit=journal_lines.c.debit - 1, credit=journal_lines.c.credit)
        )
    assert await verify(database) == []


async def test_verify_reports_a_line_on_another_currencys_account(database: Database) -> None:
    txn_id = await capture(database, 1000, 59)
    await capture(database, 500, 5, currency="jpy")
    async with database.transaction() as session:
        jpy_account = await session.scalar(
            sa.select(ledger_accounts.c.id).where(
                ledger_accounts.c.currency == "jpy",
                ledger_accounts.c.code == AccountCode.PROCESSOR_RECEIVABLE.value,
            )
        )
        # A balanced pair, but the debit lands on a JPY account of a USD entry.
        await session.execute(
            sa.insert(journal_lines),
            [
                {"entry_id": txn_id, "account_id": jpy_account, "debit": 7, "credit": 0},
                {"entry_id": txn_id, "account_id": jpy_account, "debit": 0, "credit": 7},
            ],
        )
    problems = await verify(database)
    assert sum("posts to account" in p for p in problems) == 2, problems

    async with database.transaction() as session:
        await session.execute(
            sa.delete(journal_lines).where(
                journal_lines.c.account_id == jpy_account, journal_lines.c.entry_id == txn_id
            )
        )
    assert await verify(database) == []


async def test_verify_reports_entries_without_lines_and_over_released_holds(
    database: Database,
) -> None:
    async with database.transaction() as session:
        await ledger.release_authorization(
            session, merchant_id=M1, currency="usd", amount=100, reference_id=None
        )
        await session.execute(
            sa.insert(journal_entries),
            [
                {
                    "id": "je_orphan",
                    "merchant_id": M1,
                    "currency": "usd",
                    "kind": EntryKind.CAPTURE.value,
                    "created": 1,
                    "available_on": 1,
                }
            ],
        )
    problems = await verify(database)
    assert "entry je_orphan has no lines" in problems
    assert any("more was released than held" in p for p in problems), problems

    async with database.transaction() as session:
        await session.execute(sa.delete(journal_entries).where(journal_entries.c.id == "je_orphan"))
        # The missing hold, recorded late: the ledger is whole again.
        await ledger.record_authorization(
            session, merchant_id=M1, currency="usd", amount=100, reference_id="ch_late"
        )
    assert await verify(database) == []


async def test_verify_reports_pending_that_does_not_match_unsettled_captures(
    database: Database,
) -> None:
    await capture(database, 1000, 0)
    # A balanced entry that moves pending money without being a settlement.
    async with database.transaction() as session:
        await ledger.post_entry(
            session,
            merchant_id=M1,
            currency="usd",
            kind=EntryKind.REFUND,
            postings=[
                debit(AccountCode.MERCHANT_PENDING, 100),
                credit(AccountCode.MERCHANT_AVAILABLE, 100),
            ],
        )
    problems = await verify(database)
    assert any("merchant_pending is 900" in p for p in problems), problems

    # The correction is a reversing entry, never an edit.
    async with database.transaction() as session:
        await ledger.post_entry(
            session,
            merchant_id=M1,
            currency="usd",
            kind=EntryKind.REFUND,
            postings=[
                debit(AccountCode.MERCHANT_AVAILABLE, 100),
                credit(AccountCode.MERCHANT_PENDING, 100),
            ],
        )
    assert await verify(database) == []


# --- balances ----------------------------------------------------------------------------


async def test_balances_per_currency_including_zero_and_three_decimals(
    database: Database,
) -> None:
    await capture(database, 1000, 59, currency="usd", available_on=PAST)
    await capture(database, 5000, 180, currency="jpy", available_on=PAST)  # ¥5,000
    await capture(database, 12_345, 370, currency="bhd", available_on=FUTURE)  # 12.345 BD
    await refund(database, 1, currency="bhd")  # one fils

    body = await balance(database)
    assert body["object"] == "balance"
    assert body["livemode"] is False
    assert amounts(body, "pending") == {"usd": 941, "jpy": 4820, "bhd": 11_975}
    assert amounts(body, "available") == {"usd": 0, "jpy": 0, "bhd": -1}

    assert await settle(database, now()) == 2
    body = await balance(database)
    assert amounts(body, "pending") == {"usd": 0, "jpy": 0, "bhd": 11_975}
    assert amounts(body, "available") == {"usd": 941, "jpy": 4820, "bhd": -1}
    assert [item["currency"] for item in body["available"]] == ["bhd", "jpy", "usd"]
    assert await balance(database, M2) == {
        "object": "balance",
        "available": [],
        "pending": [],
        "livemode": False,
    }
    assert await verify(database) == []


# --- settlement --------------------------------------------------------------------------


async def test_settlement_happens_once_and_only_when_due(database: Database) -> None:
    await capture(database, 1000, 59, available_on=PAST)
    await capture(database, 2000, 88, available_on=PAST + DAY)
    await capture(database, 3000, 117, available_on=FUTURE)

    assert await settle(database, PAST - 1) == 0
    assert await settle(database, PAST) == 1
    assert await settle(database, PAST) == 0
    assert await settle(database, now()) == 1
    assert await settle(database, now()) == 0
    body = await balance(database)
    assert amounts(body, "available") == {"usd": 941 + 1912}
    assert amounts(body, "pending") == {"usd": 2883}
    assert await verify(database) == []


async def test_settlement_in_batches(database: Database) -> None:
    for index in range(5):
        await capture(database, 100, 1, available_on=PAST + index)
    async with database.transaction() as session:
        assert await ledger.settle_due(session, now(), limit=2) == 2
    async with database.transaction() as session:
        assert await ledger.settle_due(session, now(), limit=2) == 2
    async with database.transaction() as session:
        assert await ledger.settle_due(session, now(), limit=2) == 1
    assert amounts(await balance(database), "available") == {"usd": 495}


async def test_concurrent_settlement_settles_each_capture_once(database: Database) -> None:
    for index in range(6):
        await capture(
            database,
            1000 + index,
            10,
            merchant_id=M1 if index % 2 else M2,
            currency="usd" if index < 4 else "jpy",
            available_on=PAST + index,
        )
    results = await asyncio.gather(*(settle(database, now()) for _ in range(4)))
    assert sum(results) == 6
    async with database.transaction() as session:
        settlements = await session.scalar(
            sa.select(sa.func.count())
            .select_from(journal_entries)
            .where(journal_entries.c.kind == EntryKind.SETTLEMENT.value)
        )
    assert settlements == 6
    body = await balance(database, M1)
    assert amounts(body, "pending") == {"usd": 0, "jpy": 0}
    assert amounts(body, "available") == {"usd": 991 + 993, "jpy": 995}
    assert await verify(database) == []


# --- balance transactions ----------------------------------------------------------------


async def test_balance_transaction_rendering(database: Database) -> None:
    charge_txn = await capture(database, 1000, 59, available_on=PAST, charge_id="ch_abc")
    pending_txn = await capture(database, 500, 20, available_on=FUTURE, charge_id="ch_def")
    refund_txn = await refund(database, 300)

    async with database.transaction() as session:
        charge = await ledger.get_balance_transaction(session, M1, charge_txn)
        pending = await ledger.get_balance_transaction(session, M1, pending_txn)
        refunded = await ledger.get_balance_transaction(session, M1, refund_txn)
    assert charge is not None and pending is not None and refunded is not None
    assert charge == {
        "id": charge_txn,
        "object": "balance_transaction",
        "amount": 1000,
        "available_on": PAST,
        "created": charge["created"],
        "currency": "usd",
        "description": None,
        "exchange_rate": None,
        "fee": 59,
        "fee_details": [
            {
                "amount": 59,
                "application": None,
                "currency": "usd",
                "description": "Processing fees",
                "type": "stripe_fee",
            }
        ],
        "net": 941,
        "reporting_category": "charge",
        "source": "ch_abc",
        "status": "available",
        "type": "charge",
    }
    assert abs(charge["created"] - now()) < 60
    assert pending["status"] == "pending"
    assert (pending["amount"], pending["fee"], pending["net"]) == (500, 20, 480)
    assert refunded["type"] == "refund"
    assert (refunded["amount"], refunded["fee"], refunded["net"]) == (-300, 0, -300)
    assert refunded["fee_details"] == []
    assert refunded["source"] == "re_test"
    assert refunded["status"] == "available"


async def test_balance_transactions_pagination_and_isolation(database: Database) -> None:
    ids = [await capture(database, 100 + i, 1) for i in range(5)]
    ids.append(await refund(database, 50))
    async with database.transaction() as session:
        await ledger.record_authorization(  # not a balance transaction
            session, merchant_id=M1, currency="usd", amount=10, reference_id="ch_x"
        )
    other = await capture(database, 999, 9, merchant_id=M2)
    newest_first = list(reversed(ids))

    async with database.transaction() as session:
        page1, more1 = await ledger.list_balance_transactions(session, M1, limit=4)
        page2, more2 = await ledger.list_balance_transactions(
            session, M1, limit=4, starting_after=page1[-1]["id"]
        )
        back, more_back = await ledger.list_balance_transactions(
            session, M1, limit=2, ending_before=page2[0]["id"]
        )
        everything, _ = await ledger.list_balance_transactions(session, M1, limit=100)
        refunds, _ = await ledger.list_balance_transactions(session, M1, type="refund")
        charges, _ = await ledger.list_balance_transactions(session, M1, type="charge")
        theirs, _ = await ledger.list_balance_transactions(session, M2)
        assert await ledger.get_balance_transaction(session, M1, other) is None
        assert await ledger.get_balance_transaction(session, M2, ids[0]) is None
        assert await ledger.get_balance_transaction(session, M1, "txn_missing") is None
        with pytest.raises(InvalidRequest):
            await ledger.list_balance_transactions(session, M1, type="payout_bogus")
        with pytest.raises(InvalidRequest):
            await ledger.list_balance_transactions(session, M1, limit=0)

    assert [t["id"] for t in page1] == newest_first[:4] and more1
    assert [t["id"] for t in page2] == newest_first[4:] and not more2
    assert [t["id"] for t in back] == newest_first[2:4] and more_back
    assert [t["id"] for t in everything] == newest_first
    assert [t["id"] for t in refunds] == [ids[-1]]
    assert [t["id"] for t in charges] == newest_first[1:]
    assert [t["id"] for t in theirs] == [other]


# --- accounts ----------------------------------------------------------------------------


async def test_concurrent_first_use_creates_each_account_once(database: Database) -> None:
    async def one(index: int) -> str:
        async with database.transaction() as session:
            await ledger.record_authorization(
                session,
                merchant_id="acct_new",
                currency="gbp",
                amount=100,
                reference_id=f"ch_{index}",
            )
            return await ledger.record_capture(
                session,
                merchant_id="acct_new",
                currency="gbp",
                amount=100,
                fee=3,
                reference_id=f"ch_{index}",
                available_on=FUTURE,
                release_hold=100,
            )

    txn_ids = await asyncio.gather(*(one(i) for i in range(12)))
    assert len(set(txn_ids)) == 12
    async with database.transaction() as session:
        rows = (
            await session.execute(
                sa.select(ledger_accounts.c.code, ledger_accounts.c.normal_side).where(
                    ledger_accounts.c.merchant_id == "acct_new"
                )
            )
        ).all()
    assert sorted(rows) == sorted(
        [
            ("card_holds", "debit"),
            ("card_holds_offset", "credit"),
            ("merchant_pending", "credit"),
            ("processing_fees", "credit"),
            ("processor_receivable", "debit"),
        ]
    )
    assert amounts(await balance(database, "acct_new"), "pending") == {"gbp": 12 * 97}
    assert await verify(database) == []
