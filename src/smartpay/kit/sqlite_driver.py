"""The stdlib `sqlite3` driver, run on the event loop, behind the surface SQLAlchemy's
aiosqlite dialect drives.

aiosqlite runs each connection in a thread and hops to it and back for every call:
SQLAlchemy makes four such calls per statement (cursor, execute, fetchall, close), and
each hop is a thread wake-up on both sides and a GIL hand-over. Measured here, a
three-key SELECT costs 273 µs through aiosqlite and 7 µs through `sqlite3` itself, and a
SQLAlchemy Core statement 504 µs with aiosqlite against 69 µs with this driver. A card
payment runs about thirty statements, so the hops were most of its time on SQLite.

A SQLite statement on a WAL database with a warm page cache takes microseconds, so
running it on the loop costs the loop less than the hops did. What can block for long
is waiting for another process's write lock: instead of SQLite's own `busy_timeout`
(which would sleep on the loop), a statement refused with SQLITE_BUSY is retried after an
`asyncio.sleep`, up to the same deadline, so the loop keeps serving while it waits. A
long report query does run on the loop; on SQLite the process has one connection, which
serialises its database work anyway.

`Database` passes `connect` below as the engine's `async_creator`: the URL, the dialect
and the SQL it compiles stay SQLAlchemy's `sqlite+aiosqlite`; only the connection is ours.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from functools import partial
from typing import Any, TypeVar

# How long a statement waits for another process's write lock before it fails, as
# SQLite's `busy_timeout` would.
BUSY_TIMEOUT_SECONDS = 30.0
# The first wait after SQLITE_BUSY and the longest; waits double in between.
_FIRST_BUSY_WAIT_SECONDS = 0.001
_LONGEST_BUSY_WAIT_SECONDS = 0.05

_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    # Never sleep inside SQLite: `_retrying` waits on the loop instead.
    "PRAGMA busy_timeout=0",
)

_Result = TypeVar("_Result")


def _is_busy(error: sqlite3.OperationalError) -> bool:
    return getattr(error, "sqlite_errorcode", None) == sqlite3.SQLITE_BUSY


async def _retrying(call: Callable[[], _Result], busy_timeout: float) -> _Result:
    """`call()`, again after a pause for as long as another process holds the lock.

    A statement refused with SQLITE_BUSY did nothing (a refused COMMIT leaves the
    transaction open), so running it again is what SQLite's own busy handler does.
    """
    try:
        return call()
    except sqlite3.OperationalError as error:
        if not _is_busy(error):
            raise
    deadline = time.monotonic() + busy_timeout
    wait = _FIRST_BUSY_WAIT_SECONDS
    while True:
        await asyncio.sleep(wait)
        try:
            return call()
        except sqlite3.OperationalError as error:
            if not _is_busy(error) or time.monotonic() >= deadline:
                raise
        wait = min(wait * 2, _LONGEST_BUSY_WAIT_SECONDS)


class Cursor:
    """aiosqlite's cursor methods, each completing at once."""

    __slots__ = ("_busy_timeout", "_cursor")

    def __init__(self, cursor: sqlite3.Cursor, busy_timeout: float) -> None:
        self._cursor = cursor
        self._busy_timeout = busy_timeout

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> Cursor:
        arguments = () if parameters is None else parameters
        await _retrying(lambda: self._cursor.execute(sql, arguments), self._busy_timeout)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> Cursor:
        rows = list(parameters)  # a generator could not be replayed after SQLITE_BUSY
        await _retrying(lambda: self._cursor.executemany(sql, rows), self._busy_timeout)
        return self

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        if size is None:
            return self._cursor.fetchmany()
        return self._cursor.fetchmany(size)

    async def close(self) -> None:
        self._cursor.close()


class Connection:
    """aiosqlite's connection methods that SQLAlchemy's dialect calls."""

    __slots__ = ("_busy_timeout", "_conn")

    def __init__(self, connection: sqlite3.Connection, busy_timeout: float) -> None:
        self._conn = connection
        self._busy_timeout = busy_timeout

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    async def cursor(self) -> Cursor:
        return Cursor(self._conn.cursor(), self._busy_timeout)

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> Cursor:
        cursor = await self.cursor()
        return await cursor.execute(sql, parameters)

    async def commit(self) -> None:
        try:
            await _retrying(self._conn.commit, self._busy_timeout)
        except sqlite3.Error:
            # A COMMIT SQLite refuses for good (a deferred constraint, a full disk, the
            # lock deadline) leaves its transaction open, while SQLAlchemy counts it as
            # over and the pool does not reset connections it gets back (kit/db): end it,
            # or the next BEGIN on this, the process's one connection, fails.
            self._conn.rollback()
            raise

    async def rollback(self) -> None:
        self._conn.rollback()

    async def close(self) -> None:
        self._conn.close()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)


def connector(
    database: str, *, busy_timeout: float = BUSY_TIMEOUT_SECONDS
) -> Callable[[], Awaitable[Connection]]:
    """The engine's `async_creator` for a SQLite file (or ":memory:")."""

    async def connect() -> Connection:
        # isolation_level=None: the driver never opens transactions on its own; the
        # engine's "begin" hook issues BEGIN IMMEDIATE. check_same_thread=False: the
        # pool may close a connection from the thread that disposes of the engine.
        raw = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
        try:
            for pragma in _PRAGMAS:
                await _retrying(partial(raw.execute, pragma), busy_timeout)
        except BaseException:
            raw.close()
            raise
        return Connection(raw, busy_timeout)

    return connect
