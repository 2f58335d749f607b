"""Benchmark: what one card payment costs the database, counted rather than timed.

Runs create+confirm payments in-process (the ASGI app, no HTTP server) against SQLite
or PostgreSQL and prints, per payment, the SQL statements executed and the
transactions committed, with the statements grouped by their first words. Counts are
deterministic and CPU time per payment changes little with load, so unlike throughput
they can be compared on a busy machine; the payments goal depends on "few database
round trips per payment" and a lean hot path.

Run: `.venv/bin/python bench/statements.py [--database-url URL] [--payments N]`.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import logging
import re
import resource
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from smartpay.app import create_app  # noqa: E402
from smartpay.config import Settings  # noqa: E402
from smartpay.kit.migrations import upgrade  # noqa: E402
from smartpay.merchants.service import create_merchant  # noqa: E402

WARMUP_PAYMENTS = 20


def _cpu_seconds() -> float:
    """User and system CPU time of this process, all threads (aiosqlite runs each
    connection in a thread): unlike wall time, barely changed by a busy machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def statement_kind(statement: str) -> str:
    words = re.sub(r"\s+", " ", statement.strip()).split(" ")
    kind = words[0].upper()
    if kind in {"SELECT", "DELETE"}:
        table = next((w for i, w in enumerate(words) if words[i - 1].upper() == "FROM"), "?")
        return f"{kind} {table}"
    if kind == "INSERT":
        return f"INSERT {words[2]}"
    if kind == "UPDATE":
        return f"UPDATE {words[1]}"
    return kind


async def run(database_url: str, payments: int, concurrency: int) -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(
            data_dir=Path(data_dir),
            database_url=database_url or None,
            run_worker_in_process=False,
            create_demo_merchant=False,
        )
        await asyncio.to_thread(upgrade, settings.resolved_database_url)
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            database = app.state.database
            async with database.transaction() as session:
                keys = await create_merchant(session, "Bench merchant")
            counts: collections.Counter[str] = collections.Counter()
            commits = 0
            counting = False

            def on_execute(*args: Any) -> None:
                if counting:
                    counts[statement_kind(args[2])] += 1

            def on_commit(*args: Any) -> None:
                nonlocal commits
                if counting:
                    commits += 1

            engine = database.engine.sync_engine
            event.listen(engine, "before_cursor_execute", on_execute)
            event.listen(engine, "commit", on_commit)
            # Wall time in the database (payments run one at a time, so it is CPU time
            # but for the disk): statements through SQLAlchemy and the driver, and
            # opening and committing transactions (pool checkout, BEGIN, COMMIT).
            seconds = {"statements": 0.0, "begin and commit": 0.0}
            execute = AsyncConnection.execute
            transaction = database.transaction

            async def timed_execute(self: AsyncConnection, *args: Any, **kwargs: Any) -> Any:
                started = time.perf_counter()
                try:
                    return await execute(self, *args, **kwargs)
                finally:
                    if counting:
                        seconds["statements"] += time.perf_counter() - started

            @asynccontextmanager
            async def timed_transaction() -> AsyncIterator[Any]:
                # All of the transaction but its body (a failed one is not counted).
                started = time.perf_counter()
                async with transaction() as session:
                    body_started = time.perf_counter()
                    yield session
                    body = time.perf_counter() - body_started
                if counting:
                    seconds["begin and commit"] += time.perf_counter() - started - body

            AsyncConnection.execute = timed_execute  # type: ignore[method-assign]
            database.transaction = timed_transaction
            transport = httpx.ASGITransport(app=app)
            headers = {"Authorization": f"Bearer {keys.secret_key}"}
            async with httpx.AsyncClient(
                transport=transport, base_url="http://bench", headers=headers
            ) as client:
                method = await client.post(
                    "/v1/payment_methods",
                    data={
                        "type": "card",
                        "card[number]": "4242424242424242",
                        "card[exp_month]": "12",
                        "card[exp_year]": "2030",
                    },
                )
                body = {
                    "amount": "2000",
                    "currency": "usd",
                    "payment_method": method.json()["id"],
                    "confirm": "true",
                }
                for _ in range(WARMUP_PAYMENTS):
                    await client.post("/v1/payment_intents", data=body)
                counting = True
                started = time.perf_counter()
                cpu_started = _cpu_seconds()

                async def pay(count: int) -> None:
                    for _ in range(count):
                        response = await client.post("/v1/payment_intents", data=body)
                        assert response.json()["status"] == "succeeded", response.text

                shares = [payments // concurrency] * concurrency
                shares[0] += payments - sum(shares)
                await asyncio.gather(*(pay(share) for share in shares))
                elapsed = time.perf_counter() - started
                cpu = _cpu_seconds() - cpu_started
                counting = False
    total = sum(counts.values())
    AsyncConnection.execute = execute  # type: ignore[method-assign]
    dialect = "postgresql" if "postgresql" in database_url else "sqlite"
    print(
        f"{dialect}: {payments} payments (create+confirm, one request each, "
        f"{concurrency} at a time)"
    )
    print(f"  statements per payment: {total / payments:.2f}")
    print(f"  commits per payment:    {commits / payments:.2f}")
    print(f"  CPU per payment (all threads of the process): {cpu / payments * 1000:.2f} ms")
    print(f"  in-process payments/s (no HTTP server): {payments / elapsed:.0f}")
    if concurrency == 1:  # overlapping payments would count their waits twice
        print(f"  wall time per payment: {elapsed / payments * 1000:.2f} ms, of which")
        for part, spent in seconds.items():
            print(f"    {spent / payments * 1000:6.2f} ms  {part}")
        outside = elapsed - sum(seconds.values())
        print(f"    {outside / payments * 1000:6.2f} ms  everything else (HTTP, payment logic)")
    for kind, count in counts.most_common():
        print(f"    {count / payments:6.2f}  {kind}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="", help="default: SQLite in a temp dir")
    parser.add_argument("--payments", type=int, default=200)
    parser.add_argument(
        "--concurrency",
        type=int,
        default=1,
        help="payments in flight at once (SQLite's group commit shares commits between them)",
    )
    arguments = parser.parse_args()
    asyncio.run(run(arguments.database_url, arguments.payments, arguments.concurrency))


if __name__ == "__main__":
    main()
