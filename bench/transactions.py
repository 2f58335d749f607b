"""Benchmark: what one transaction costs before any statement of a payment runs.

Times a one-statement transaction on SQLite, one at a time, two ways:

- through `Database.transaction` (the one way SmartPay opens a unit of work: the pool's
  checkout and return, a new `AsyncConnection`, BEGIN IMMEDIATE, COMMIT);
- on one `AsyncConnection` held open across transactions (BEGIN IMMEDIATE and COMMIT
  only), the design a SQLite process with its single connection could use.

A payment runs three transactions, so the difference is per payment three times over.

Run: `.venv/bin/python bench/transactions.py [--transactions N]`. Prints figures;
asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from smartpay.kit.db import Database  # noqa: E402

_INSERT = sa.text("INSERT INTO bench_rows (value) VALUES (1)")


async def _per_transaction_us(run: Callable[[], Awaitable[None]], transactions: int) -> float:
    started = time.perf_counter()
    for _ in range(transactions):
        await run()
    return (time.perf_counter() - started) / transactions * 1e6


async def main(transactions: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        database = Database(f"sqlite+aiosqlite:///{tmp}/bench.db")
        async with database.transaction() as session:
            await session.execute(
                sa.text("CREATE TABLE bench_rows (id INTEGER PRIMARY KEY, value INTEGER)")
            )

        async def through_database() -> None:
            async with database.transaction() as session:
                await session.execute(_INSERT)

        pooled = [await _per_transaction_us(through_database, transactions) for _ in range(rounds)]
        await database.dispose()
        held_connection = await database.engine.connect()

        async def on_held_connection() -> None:
            async with held_connection.begin():
                await held_connection.execute(_INSERT)

        held = [await _per_transaction_us(on_held_connection, transactions) for _ in range(rounds)]
        await held_connection.close()
        await database.dispose()
    print(f"{transactions} one-statement transactions on SQLite, {rounds} rounds, medians:")
    print(f"  Database.transaction:  {statistics.median(pooled):6.0f} µs per transaction")
    print(f"  held AsyncConnection:  {statistics.median(held):6.0f} µs per transaction")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--transactions", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.transactions, args.rounds))
