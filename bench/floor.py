"""Benchmark: the ceiling of this stack, with no payment logic at all.

A bare FastAPI endpoint on uvicorn (the server, workers and `kit.db.Database` that
SmartPay uses, so SQLite goes through the same driver and PRAGMAs) runs only
"payment-shaped" SQL per request: STATEMENTS statements (an INSERT, SELECTs and UPDATEs
of one row by id, SQLAlchemy Core built once with bind parameters) in COMMITS
transactions. wrk drives it closed-loop exactly as `bench/payments.py` drives payments.

It answers "how fast can a payment be on this machine before any payment code runs":
with the statement and commit counts a payment has today (see `bench/statements.py`)
and with the six statements in one transaction the payments goal was sized from.

A shape ending in "g" (`20x3g`) measures the ceiling of group commit instead: each
request hands its transactions to a per-process batcher and waits for the commit; the
batcher runs all the transactions waiting at that moment as one database transaction,
with one executemany per statement kind (the SELECTs as one `id IN (...)`), so a batch
costs three round trips and one commit however many requests it carries. No payment
logic could be batched better than this.

Run: `.venv/bin/python bench/floor.py [--only sqlite|postgres] [--seconds N]`.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.responses import JSONResponse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from smartpay.kit.db import Database, update_by_id  # noqa: E402
from smartpay.kit.ids import new_id  # noqa: E402

_metadata = sa.MetaData()
_rows = sa.Table(
    "floor_rows",
    _metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("merchant_id", sa.String(40), nullable=False, index=True),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("body", sa.JSON, nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),
)
_INSERT = sa.insert(_rows)
_SELECT = sa.select(_rows).where(_rows.c.id == sa.bindparam("row_id"))
_UPDATE = update_by_id(_rows)
_SELECT_MANY = sa.select(_rows).where(_rows.c.id.in_(sa.bindparam("row_ids", expanding=True)))
_ONE_ROW: dict[str, sa.Executable] = {"insert": _INSERT, "select": _SELECT, "update": _UPDATE}
# The most transactions one group commit carries, so a batch's wait stays bounded.
_LARGEST_BATCH = 256


class _Batch:
    """One request's transaction, waiting for a group commit: (shape, parameters) pairs."""

    __slots__ = ("done", "statements")

    def __init__(self, statements: list[tuple[str, dict[str, Any]]]) -> None:
        self.statements = statements
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()


class _GroupCommitter:
    """Runs the transactions queued while the previous group was committing as one."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._queue: list[_Batch] = []
        self._wake = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def commit(self, batch: _Batch) -> None:
        self._queue.append(batch)
        self._wake.set()
        await batch.done

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                group = self._queue[:_LARGEST_BATCH]
                del self._queue[:_LARGEST_BATCH]
                try:
                    await self._write(group)
                except Exception as error:  # every transaction of the group failed with it
                    for batch in group:
                        batch.done.set_exception(error)
                else:
                    for batch in group:
                        batch.done.set_result(None)

    async def _write(self, group: list[_Batch]) -> None:
        def of(kind: str) -> list[dict[str, Any]]:
            return [row for batch in group for shape, row in batch.statements if shape == kind]

        inserts, updates = of("insert"), of("update")
        selects = [row["row_id"] for row in of("select")]
        async with self._database.transaction() as session:
            if inserts:
                await session.execute(_INSERT, inserts)
            if updates:
                await session.execute(_UPDATE, updates)
            if selects:
                await session.execute(_SELECT_MANY, {"row_ids": selects})

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


def _shapes(statements: int) -> list[str]:
    """The statements of one request, in order: an INSERT, then UPDATE, INSERT and SELECT
    in turn, so about a third of them insert (payments insert intents, charges, attempts,
    events and ledger lines) and the rest read or update the row by id."""
    shapes = ["insert"] if statements else []
    while len(shapes) < statements:
        shapes.append(("select", "update", "insert")[len(shapes) % 3])
    return shapes


def create_app() -> FastAPI:
    url = os.environ["FLOOR_DATABASE_URL"]
    shapes = _shapes(int(os.environ["FLOOR_STATEMENTS"]))
    commits = int(os.environ["FLOOR_COMMITS"])
    group_commit = os.environ.get("FLOOR_GROUP_COMMIT") == "1"
    # 0x0 runs no SQL at all: the floor of FastAPI and uvicorn alone.
    per_transaction = -(-len(shapes) // commits) if commits else 1
    groups = [shapes[i : i + per_transaction] for i in range(0, len(shapes), per_transaction)]

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.database = Database(url)
        app.state.committer = _GroupCommitter(app.state.database) if group_commit else None
        yield
        if app.state.committer is not None:
            await app.state.committer.close()
        await app.state.database.dispose()

    app = FastAPI(lifespan=lifespan)

    @app.post("/v1/payment_intents")
    async def pay() -> JSONResponse:
        database: Database = app.state.database
        row_id = new_id("pi")
        body: dict[str, Any] = {"id": row_id, "object": "payment_intent", "amount": 2000}

        def parameters(shape: str) -> dict[str, Any]:
            if shape == "insert":
                return {
                    "id": new_id("pi"),
                    "merchant_id": "acct_floor",
                    "amount": 2000,
                    "status": "processing",
                    "body": body,
                    "created": int(time.time()),
                }
            if shape == "select":
                return {"row_id": row_id}
            return {"row_id": row_id, "status": "succeeded"}

        for group in groups:
            statements = [(shape, parameters(shape)) for shape in group]
            if app.state.committer is not None:
                await app.state.committer.commit(_Batch(statements))
                continue
            async with database.transaction() as session:
                for shape, values in statements:
                    await session.execute(_ONE_ROW[shape], values)
        return JSONResponse(body)

    return app


def bench_one(
    label: str, url: str, statements: int, commits: int, group: bool, args: argparse.Namespace
) -> str:
    # Imported here, not at the top: the server processes import this module too.
    from tests.e2e.server import free_port

    from payments import run_wrk  # bench/payments.py: the same wrk run and parsing

    asyncio.run(_create_table(url))
    port = free_port()
    env = {
        **os.environ,
        "FLOOR_DATABASE_URL": url,
        "FLOOR_STATEMENTS": str(statements),
        "FLOOR_COMMITS": str(commits),
        "FLOOR_GROUP_COMMIT": "1" if group else "0",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "floor:create_app",
            "--factory",
            "--app-dir",
            str(ROOT / "bench"),
            "--port",
            str(port),
            "--workers",
            str(args.workers),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
        start_new_session=True,
    )
    try:
        base_url = f"http://127.0.0.1:{port}"
        _wait_for(base_url)
        run_wrk(base_url, "unused", "unused", 2, args.connections)  # warm-up
        figures = run_wrk(base_url, "unused", "unused", args.seconds, args.connections)
    finally:
        os.killpg(server.pid, 15)
        server.wait()
    return (
        f"{label:>8} ({args.workers} workers), {statements:2d} statements in {commits} "
        f"transaction(s){', group commit' if group else ''}: "
        f"{figures['requests_per_second']:.0f}/s, "
        f"p50 {figures.get('p50_ms', 0):.1f} ms p99 {figures.get('p99_ms', 0):.1f} ms, "
        f"non-2xx {figures['non_2xx']:.0f}"
    )


async def _create_table(url: str) -> None:
    database = Database(url)
    try:
        async with database.engine.begin() as connection:
            await connection.run_sync(_metadata.drop_all)
            await connection.run_sync(_metadata.create_all)
    finally:
        await database.dispose()


def _wait_for(base_url: str) -> None:
    import httpx

    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.post(f"{base_url}/v1/payment_intents").raise_for_status()
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--shapes",
        default="6x1,20x3",
        help="statements x transactions per request, comma-separated (a payment today: 20x3; "
        "0x0: no SQL, the floor of the web stack alone; a trailing g: group commit)",
    )
    parser.add_argument(
        "--postgres", default="postgresql+asyncpg://postgres@127.0.0.1:5432/smartpay_bench"
    )
    parser.add_argument("--only", choices=["sqlite", "postgres"], default=None)
    args = parser.parse_args()
    from payments import recreate_postgres_database

    lines = []
    for shape in args.shapes.split(","):
        group = shape.endswith("g")
        statements, commits = (int(n) for n in shape.removesuffix("g").split("x"))
        if args.only in (None, "sqlite"):
            with tempfile.TemporaryDirectory() as tmp:
                url = f"sqlite+aiosqlite:///{tmp}/floor.db"
                lines.append(bench_one("sqlite", url, statements, commits, group, args))
        if args.only in (None, "postgres"):
            recreate_postgres_database(args.postgres)
            lines.append(bench_one("postgres", args.postgres, statements, commits, group, args))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
