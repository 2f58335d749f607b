"""Every SQL statement of inbound webhooks."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from smartpay.inbound.models import InboundStatus, inbound_events
from smartpay.kit.db import Session, insert_if_absent


async def insert_once(session: Session, values: dict[str, Any]) -> bool:
    """Store a provider event unless it is already stored; True if it was new."""
    result = await session.execute(insert_if_absent(inbound_events), values)
    return bool(result.rowcount)


async def get(session: Session, connector: str, provider_event_id: str) -> sa.Row[Any] | None:
    query = sa.select(inbound_events).where(
        inbound_events.c.connector == connector,
        inbound_events.c.provider_event_id == provider_event_id,
    )
    return (await session.execute(query)).first()


async def received(session: Session, limit: int) -> list[sa.Row[Any]]:
    query = (
        sa.select(inbound_events)
        .where(inbound_events.c.status == InboundStatus.RECEIVED.value)
        .order_by(inbound_events.c.id)
        .limit(limit)
    )
    return list((await session.execute(query)).all())


async def finish(
    session: Session, event_id: str, status: InboundStatus, reason: str | None, at: int
) -> bool:
    """Move a received event to its final status; False if another worker did first."""
    result = await session.execute(
        sa.update(inbound_events)
        .where(
            inbound_events.c.id == event_id,
            inbound_events.c.status == InboundStatus.RECEIVED.value,
        )
        .values(status=status.value, reason=reason, processed_at=at)
    )
    return bool(result.rowcount)


async def count_attempt(session: Session, event_id: str, reason: str) -> None:
    await session.execute(
        sa.update(inbound_events)
        .where(
            inbound_events.c.id == event_id,
            inbound_events.c.status == InboundStatus.RECEIVED.value,
        )
        .values(attempts=inbound_events.c.attempts + 1, reason=reason)
    )
