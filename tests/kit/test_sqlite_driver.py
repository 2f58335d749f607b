"""The in-loop SQLite driver: SQLAlchemy works through it, and a lock held by another
process is waited for on the loop (other tasks go on), then given up at the deadline."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from smartpay.kit import sqlite_driver
from smartpay.kit.db import Database

_table = sa.Table(
    "things",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String, nullable=False),
    sa.Column("data", sa.JSON),
)


async def _database(path: Path) -> Database:
    database = Database(f"sqlite+aiosqlite:///{path}")
    async with database.engine.begin() as connection:
        await connection.run_sync(_table.metadata.create_all)
    return database


async def test_statements_rows_json_and_rowcounts_go_through(tmp_path: Path) -> None:
    database = await _database(tmp_path / "db.sqlite")
    try:
        async with database.transaction() as session:
            await session.execute(
                sa.insert(_table), [{"name": f"n{i}", "data": {"i": i}} for i in range(5)]
            )
            updated = await session.execute(
                sa.update(_table).where(_table.c.id > 3).values(name="big")
            )
            assert updated.rowcount == 2
        async with database.transaction() as session:
            rows = (await session.execute(sa.select(_table).order_by(_table.c.id))).all()
        assert [(row.name, row.data) for row in rows][-1] == ("big", {"i": 4})
        assert len(rows) == 5
    finally:
        await database.dispose()


async def test_the_connection_runs_wal_with_foreign_keys(tmp_path: Path) -> None:
    database = await _database(tmp_path / "db.sqlite")
    try:
        async with database.transaction() as session:
            journal = (await session.exec_driver_sql("PRAGMA journal_mode")).scalar()
            foreign_keys = (await session.exec_driver_sql("PRAGMA foreign_keys")).scalar()
        assert (journal, foreign_keys) == ("wal", 1)
    finally:
        await database.dispose()


async def test_an_error_rolls_back_and_the_connection_stays_usable(tmp_path: Path) -> None:
    database = await _database(tmp_path / "db.sqlite")
    try:
        with pytest.raises(sa.exc.IntegrityError):
            async with database.transaction() as session:
                await session.execute(sa.insert(_table), {"id": 1, "name": "a"})
                await session.execute(sa.insert(_table), {"id": 1, "name": "b"})
        async with database.transaction() as session:
            count = (await session.execute(sa.select(sa.func.count()).select_from(_table))).scalar()
        assert count == 0
    finally:
        await database.dispose()


async def test_another_process_lock_is_waited_for_without_blocking_the_loop(
    tmp_path: Path,
) -> None:
    path = tmp_path / "db.sqlite"
    database = await _database(path)
    other = sqlite3.connect(path, isolation_level=None)  # stands for another process
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO things (name) VALUES ('theirs')")
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.005)
                ticks += 1

        async def ours() -> None:
            async with database.transaction() as session:
                await session.execute(sa.insert(_table), {"name": "ours"})

        ticking = asyncio.create_task(ticker())
        writing = asyncio.create_task(ours())
        await asyncio.sleep(0.2)
        assert not writing.done()  # still waiting for the other writer's lock
        assert ticks >= 10  # while the loop went on serving others
        other.execute("COMMIT")
        await asyncio.wait_for(writing, timeout=5)
        ticking.cancel()
        async with database.transaction() as session:
            names = (await session.execute(sa.select(_table.c.name).order_by(_table.c.id))).all()
        assert [row.name for row in names] == ["theirs", "ours"]
    finally:
        other.close()
        await database.dispose()


async def test_a_lock_held_past_the_deadline_fails_as_database_is_locked(
    tmp_path: Path,
) -> None:
    path = tmp_path / "db.sqlite"
    setup = await _database(path)
    await setup.dispose()
    engine = create_async_engine(
        f"sqlite+aiosqlite:///{path}",
        async_creator=sqlite_driver.connector(str(path), busy_timeout=0.1),
    )
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        async with engine.connect() as connection:
            with pytest.raises(sa.exc.OperationalError, match="database is locked"):
                await connection.exec_driver_sql("BEGIN IMMEDIATE")
    finally:
        other.close()
        await engine.dispose()


async def test_executemany_of_a_generator_is_replayed_after_busy(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    setup = await _database(path)
    await setup.dispose()
    connection = await sqlite_driver.connector(str(path))()
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        cursor = await connection.cursor()
        inserting = asyncio.create_task(
            cursor.executemany(
                "INSERT INTO things (name) VALUES (?)", ((f"n{i}",) for i in range(3))
            )
        )
        await asyncio.sleep(0.05)
        other.execute("COMMIT")
        await asyncio.wait_for(inserting, timeout=5)
        assert cursor.rowcount == 3
        rows = await (await connection.execute("SELECT count(*) FROM things")).fetchall()
        assert rows == [(3,)]
    finally:
        other.close()
        await connection.close()
