"""Database plumbing: the metadata every domain's tables register on, the engine, and
the unit of work.

Repositories issue SQLAlchemy Core statements on a ``Session`` (an ``AsyncConnection``).
Services receive the session and never commit: ``Database.transaction()`` commits once
when the unit of work ends, or rolls back on error.

SQLite allows one writer at a time. Rather than let concurrent transactions fail with
"database is locked", SQLite transactions start with ``BEGIN IMMEDIATE`` and are
serialised in-process by a lock; ``busy_timeout`` covers other processes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

Session = AsyncConnection

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

# An auto-incrementing 64-bit key; SQLite only auto-increments a column typed INTEGER.
BigIntPK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# How long a SQLite connection waits for another process's write lock before failing.
SQLITE_BUSY_TIMEOUT_MS = 30_000


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so BEGIN IMMEDIATE below is ours.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """The engine and the one way to open a unit of work."""

    def __init__(self, url: str, *, pool_size: int = 20, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        # Every unit of work ends in COMMIT or ROLLBACK (``transaction`` below is the only
        # way to get a connection), so the pool's own rollback on every return would be
        # one more round trip per transaction for nothing.
        if self.is_sqlite:
            # One connection: transactions are serialised by the lock below anyway, and a
            # single connection keeps its page cache, which another connection's write
            # would invalidate (a payment re-read ~200 pages from disk with a pool of them).
            # (An in-memory database has a single connection already: its pool takes no size.)
            in_memory = sa.engine.make_url(url).database in (None, "", ":memory:")
            one_connection = {} if in_memory else {"pool_size": 1, "max_overflow": 0}
            self.engine = create_async_engine(
                url, echo=echo, pool_reset_on_return=None, **one_connection
            )
            _configure_sqlite(self.engine)
        else:
            self.engine = create_async_engine(
                url,
                echo=echo,
                pool_size=pool_size,
                max_overflow=pool_size,
                pool_pre_ping=True,
                pool_reset_on_return=None,
            )
        # SQLite has one writer: queue our own transactions instead of racing for the lock.
        self._sqlite_lock = asyncio.Lock() if self.is_sqlite else None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Session]:
        if self._sqlite_lock is not None:
            async with self._sqlite_lock, self.engine.begin() as conn:
                yield conn
        else:
            async with self.engine.begin() as conn:
                yield conn

    async def dispose(self) -> None:
        await self.engine.dispose()


def insert_if_absent(
    session: Session,
    table: sa.Table,
    values: dict[str, Any] | list[dict[str, Any]] | None = None,
) -> Any:
    """An INSERT that silently skips rows whose primary or unique key already exists
    (``ON CONFLICT DO NOTHING`` on both PostgreSQL and SQLite). ``rowcount`` tells how
    many rows were new. On PostgreSQL a conflicting insert still in flight in another
    transaction makes this wait for it, which is what makes claims race-safe.

    Without ``values`` the statement is constant: pass one row's parameters to
    ``execute`` instead, which spares building and cache-keying a statement per call."""
    statement: Any
    if session.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        statement = pg_insert(table)
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        statement = sqlite_insert(table)
    if values is not None:
        statement = statement.values(values)
    return statement.on_conflict_do_nothing()


def snapshot(row: Any, **changes: Any) -> SimpleNamespace:
    """An in-memory copy of a row (a ``Row``, a dict of the values just inserted, or
    another snapshot) with ``changes`` applied: the state a unit of work has just written,
    used to render responses and events without reading the rows back."""
    if isinstance(row, dict):
        base = dict(row)
    elif hasattr(row, "_asdict"):
        base = row._asdict()
    else:
        base = dict(vars(row))
    base.update(changes)
    return SimpleNamespace(**base)
