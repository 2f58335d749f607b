"""SQLite's group commit (`kit.db._SqliteGroupCommit`): units of work waiting together
share one COMMIT, yet each behaves as its own transaction. A failed one leaves no trace
and harms no other. None returns before its writes are durable. A failed COMMIT fails
every member.

A second, plain `sqlite3` connection to the same file is the witness: it sees only what
was committed."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from smartpay.kit.db import LARGEST_SQLITE_GROUP, Database

_metadata = sa.MetaData()
_parents = sa.Table("parents", _metadata, sa.Column("id", sa.Integer, primary_key=True))
_things = sa.Table(
    "things",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String, nullable=False, unique=True),
    sa.Column("parent_id", sa.Integer, sa.ForeignKey("parents.id"), nullable=True),
)


async def _database(path: Path) -> tuple[Database, list[int]]:
    """A database of `things`, and a list that grows by one at every COMMIT."""
    database = Database(f"sqlite+aiosqlite:///{path}")
    async with database.engine.begin() as connection:
        await connection.run_sync(_metadata.create_all)
    commits: list[int] = []
    event.listen(database.engine.sync_engine, "commit", lambda _connection: commits.append(1))
    return database, commits


def _committed_names(path: Path) -> set[str]:
    with sqlite3.connect(path) as witness:
        return {name for (name,) in witness.execute("SELECT name FROM things")}


async def _insert(database: Database, name: str, *, then: Any = None) -> None:
    async with database.transaction() as session:
        await session.execute(sa.insert(_things), {"name": name})
        if then is not None:
            await then(session)


async def test_units_of_work_waiting_together_share_commits(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    database, commits = await _database(path)
    try:
        await asyncio.gather(*(_insert(database, f"n{i}") for i in range(10)))
        assert _committed_names(path) == {f"n{i}" for i in range(10)}
        # The first opens a group; the nine queued behind it join it. Without grouping
        # there would be ten commits.
        assert len(commits) <= 2
    finally:
        await database.dispose()


async def test_a_group_is_capped(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    database, commits = await _database(path)
    count = 3 * LARGEST_SQLITE_GROUP
    try:
        await asyncio.gather(*(_insert(database, f"n{i}") for i in range(count)))
        assert len(_committed_names(path)) == count
        assert len(commits) >= 3
    finally:
        await database.dispose()


async def test_each_caller_returns_only_after_its_writes_are_committed(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    database, _ = await _database(path)
    seen_on_return: dict[str, set[str]] = {}

    async def insert_and_look(name: str) -> None:
        await _insert(database, name)
        # The moment `transaction()` returns, an outside connection must see the row.
        seen_on_return[name] = _committed_names(path)

    try:
        await asyncio.gather(*(insert_and_look(f"n{i}") for i in range(6)))
        for name, seen in seen_on_return.items():
            assert name in seen
    finally:
        await database.dispose()


async def test_a_failed_unit_of_work_leaves_no_trace_and_the_others_commit(
    tmp_path: Path,
) -> None:
    path = tmp_path / "db.sqlite"
    database, _ = await _database(path)

    async def fail(session: Any) -> None:
        await session.execute(sa.insert(_things), {"name": "also-gone"})
        raise RuntimeError("business rule refused it")

    try:
        results = await asyncio.gather(
            _insert(database, "a"),
            _insert(database, "gone", then=fail),
            _insert(database, "b"),
            _insert(database, "a"),  # a unique violation: this one alone fails
            _insert(database, "c"),
            return_exceptions=True,
        )
        assert results[0] is None and results[2] is None and results[4] is None
        assert isinstance(results[1], RuntimeError)
        assert isinstance(results[3], sa.exc.IntegrityError)
        assert _committed_names(path) == {"a", "b", "c"}
    finally:
        await database.dispose()


async def test_a_lone_failure_ends_its_group_and_frees_the_write_lock(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    database, _ = await _database(path)

    async def fail(session: Any) -> None:
        raise RuntimeError("refused")

    try:
        with pytest.raises(RuntimeError):
            await _insert(database, "gone", then=fail)
        # No group is left holding BEGIN IMMEDIATE: another connection can write at once.
        with sqlite3.connect(path, timeout=0) as other:
            other.execute("INSERT INTO things (name) VALUES ('outside')")
        assert _committed_names(path) == {"outside"}
    finally:
        await database.dispose()


async def test_a_failed_commit_fails_every_member(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    database, _ = await _database(path)

    async def break_the_commit(session: Any) -> None:
        # A deferred foreign key is checked at COMMIT: the shared COMMIT fails.
        await session.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
        await session.execute(sa.insert(_things), {"name": "orphan", "parent_id": 404})

    try:
        results = await asyncio.gather(
            _insert(database, "a"),
            _insert(database, "orphan-maker", then=break_the_commit),
            _insert(database, "b"),
            return_exceptions=True,
        )
        assert all(isinstance(result, sa.exc.IntegrityError) for result in results), results
        assert _committed_names(path) == set()
        # And the next unit of work starts afresh.
        await _insert(database, "after")
        assert _committed_names(path) == {"after"}
    finally:
        await database.dispose()


async def test_a_cancelled_waiter_does_not_cancel_the_others_commit(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    database, _ = await _database(path)
    try:
        tasks = [asyncio.create_task(_insert(database, f"n{i}")) for i in range(5)]
        await asyncio.sleep(0)
        tasks[0].cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert all(result is None for result in results[1:]), results
        assert {f"n{i}" for i in range(1, 5)} <= _committed_names(path)
    finally:
        await database.dispose()
