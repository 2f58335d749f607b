"""`Database.transaction()` on SQLite: a unit of work whose COMMIT SQLite refuses leaves
nothing behind, and the process's one connection stays usable (an error in the body is
covered in test_sqlite_driver.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from smartpay.kit.db import Database

_metadata = sa.MetaData()
_parents = sa.Table("parents", _metadata, sa.Column("id", sa.Integer, primary_key=True))
_things = sa.Table(
    "things",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String, nullable=False),
    sa.Column("parent_id", sa.Integer, sa.ForeignKey("parents.id"), nullable=True),
)


async def _database(path: Path) -> Database:
    database = Database(f"sqlite+aiosqlite:///{path}")
    async with database.engine.begin() as connection:
        await connection.run_sync(_metadata.create_all)
    return database


def _committed_names(path: Path) -> set[str]:
    """What another connection sees: only what was committed."""
    with sqlite3.connect(path) as witness:
        return {name for (name,) in witness.execute("SELECT name FROM things")}


async def test_a_refused_commit_leaves_the_connection_usable(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    database = await _database(path)
    try:
        with pytest.raises(sa.exc.IntegrityError):
            async with database.transaction() as session:
                # A deferred foreign key is checked at COMMIT, which SQLite then refuses.
                await session.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
                await session.execute(sa.insert(_things), {"name": "orphan", "parent_id": 404})
        # Before the fix SQLite's transaction stayed open on the pooled connection, and
        # this failed with "cannot start a transaction within a transaction".
        async with database.transaction() as session:
            await session.execute(sa.insert(_things), {"name": "after"})
        assert _committed_names(path) == {"after"}
        # And the write lock was given back: another connection can write at once.
        with sqlite3.connect(path, timeout=0) as other:
            other.execute("INSERT INTO things (name) VALUES ('outside')")
        assert _committed_names(path) == {"after", "outside"}
    finally:
        await database.dispose()
