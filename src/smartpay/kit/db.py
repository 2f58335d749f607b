"""Database plumbing: the metadata every domain's tables register on, the engine, and
the unit of work.

Repositories issue SQLAlchemy Core statements on a ``Session`` (an ``AsyncConnection``).
Services receive the session and never commit: ``Database.transaction()`` commits once
when the unit of work ends, or rolls back on error.

SQLite allows one writer at a time. Rather than let concurrent transactions fail with
"database is locked", SQLite transactions start with ``BEGIN IMMEDIATE`` and are
serialised in-process by a lock; a statement that finds another process's lock waits
for it on the loop (``kit/sqlite_driver``, which runs SQLite's statements in-loop).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from smartpay.kit import sqlite_driver

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


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Straight to the DBAPI cursor: `exec_driver_sql` would run SQLAlchemy's whole
        # execution path (context, events, result) for a statement that returns nothing,
        # at every transaction. The driver still retries it while another process writes.
        connection.connection.dbapi_connection.cursor().execute("BEGIN IMMEDIATE")


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
            database = sa.engine.make_url(url).database or ":memory:"
            in_memory = database == ":memory:"
            one_connection = {} if in_memory else {"pool_size": 1, "max_overflow": 0}
            self.engine = create_async_engine(
                url,
                echo=echo,
                pool_reset_on_return=None,
                # The stdlib driver on the loop, not aiosqlite's thread (see sqlite_driver).
                async_creator=sqlite_driver.connector(database),
                **one_connection,
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


# The name under which `update_by_id` takes the row's id (``id`` itself is reserved by
# SQLAlchemy for a SET of the id column).
ROW_ID = "row_id"


@functools.cache
def update_by_id(table: sa.Table) -> sa.Update:
    """``UPDATE table SET ... WHERE id = :row_id``, built once per table: execute it with
    ``{ROW_ID: id, column: value, ...}`` and the SET clause has the columns given.

    A statement built per call costs SQLAlchemy a new cache key every time (a third of a
    statement's cost); this one is keyed once. Statements of the payment path that take
    only parameters are built once the same way, at module level in their repository.
    """
    return sa.update(table).where(table.c.id == sa.bindparam(ROW_ID))


@functools.cache
def select_owned_by_id(table: sa.Table, *, for_update: bool = False) -> sa.Select[Any]:
    """``SELECT * FROM table WHERE id = :row_id AND merchant_id = :merchant_id`` (locking
    the row with `for_update`), built once per table like `update_by_id`: one merchant's
    row, never another's."""
    query = sa.select(table).where(
        table.c.id == sa.bindparam(ROW_ID), table.c.merchant_id == sa.bindparam("merchant_id")
    )
    return query.with_for_update() if for_update else query


def _on_conflict(statement: sa.Insert, clause: str) -> sa.Insert:
    """`statement` followed by an ON CONFLICT clause, as a statement SQLAlchemy caches.

    The dialects' own ``insert().on_conflict_do_*()`` constructs have no cache key in
    SQLAlchemy 2.0, so every execution compiled them again (about half a millisecond per
    statement, several per payment). The clause is the same text on PostgreSQL and on
    SQLite (3.24+), so it is given as text in the slot the dialect constructs fill
    (``_post_values_clause``, which the standard INSERT compiles before RETURNING and
    includes in its cache key).
    """
    statement._post_values_clause = sa.text(clause)
    return statement


def insert_if_absent(
    table: sa.Table, values: dict[str, Any] | list[dict[str, Any]] | None = None
) -> sa.Insert:
    """An INSERT that silently skips rows whose primary or unique key already exists
    (``ON CONFLICT DO NOTHING`` on both PostgreSQL and SQLite). ``rowcount`` tells how
    many rows were new. On PostgreSQL a conflicting insert still in flight in another
    transaction makes this wait for it, which is what makes claims race-safe.

    Without ``values`` the statement is constant: pass one row's parameters to
    ``execute`` instead, which spares building and cache-keying a statement per call."""
    statement = sa.insert(table)
    if values is not None:
        statement = statement.values(values)
    return _on_conflict(statement, "ON CONFLICT DO NOTHING")


def upsert(
    table: sa.Table,
    conflict: Sequence[str],
    *,
    replace: Sequence[str] = (),
    add: Sequence[str] = (),
) -> sa.Insert:
    """An INSERT whose row, when one with the same `conflict` columns exists, updates it
    instead: `replace` columns take the new values, `add` columns add them to the stored
    ones. Constant, like ``insert_if_absent`` without values: rows go to ``execute``."""
    unknown = [column for column in (*conflict, *replace, *add) if column not in table.c]
    if unknown:  # a misspelt column fails here, not in the database
        raise KeyError(f"{table.name} has no column {', '.join(unknown)}")
    name = _quoted(table.name)
    assignments = [f"{_quoted(column)} = excluded.{_quoted(column)}" for column in replace]
    assignments += [
        f"{_quoted(column)} = {name}.{_quoted(column)} + excluded.{_quoted(column)}"
        for column in add
    ]
    target = ", ".join(_quoted(column) for column in conflict)
    return _on_conflict(
        sa.insert(table), f"ON CONFLICT ({target}) DO UPDATE SET {', '.join(assignments)}"
    )


def _quoted(identifier: str) -> str:
    # Double quotes are the standard's (and both databases') identifier quotes.
    return '"' + identifier.replace('"', '""') + '"'


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
