"""Every SQL statement of the chat (the embedded sessions store)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from smartpay.chat.models import chat_sessions
from smartpay.kit.db import Session


async def insert(session: Session, **values: Any) -> None:
    await session.execute(sa.insert(chat_sessions), values)


async def get(session: Session, session_id: str) -> sa.Row[Any] | None:
    query = sa.select(chat_sessions).where(chat_sessions.c.id == session_id)
    return (await session.execute(query)).first()


async def update_if_version(
    session: Session, session_id: str, expected_version: int, **values: Any
) -> bool:
    """Write ``values`` only if the row is still at ``expected_version``; False if it moved on."""
    statement = (
        sa.update(chat_sessions)
        .where(chat_sessions.c.id == session_id, chat_sessions.c.version == expected_version)
        .values(**values)
    )
    result = await session.execute(statement)
    return bool(result.rowcount)


async def delete_expired_before(session: Session, cutoff: int) -> int:
    result = await session.execute(
        sa.delete(chat_sessions).where(chat_sessions.c.expires_at < cutoff)
    )
    return int(result.rowcount or 0)


async def purge_expired(session: Session, at: int) -> int:
    """Empty the state of sessions expired at ``at`` that were not written since they
    expired. Every write after expiry already empties the state (this purge, a load, a
    late save), so ``updated < expires_at`` picks exactly the rows that may still hold
    card data, and a row is purged once. The version is left alone: a turn that loaded
    the row before expiry may still save, and that save empties the state too."""
    columns = chat_sessions.c
    statement = (
        sa.update(chat_sessions)
        .where(columns.expires_at <= at, columns.updated < columns.expires_at)
        .values(state={}, updated=at)
    )
    result = await session.execute(statement)
    return int(result.rowcount or 0)
