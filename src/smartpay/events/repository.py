from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from smartpay.events.models import events
from smartpay.events.schemas import EventList
from smartpay.kit.db import Session
from smartpay.kit.pagination import Page, created_clauses, fetch_page


async def insert_many(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(sa.insert(events), rows)


async def get(session: Session, merchant_id: str, event_id: str) -> sa.Row[Any] | None:
    query = sa.select(events).where(events.c.id == event_id, events.c.merchant_id == merchant_id)
    return (await session.execute(query)).first()


async def page(session: Session, merchant_id: str, params: EventList) -> Page:
    where = [events.c.merchant_id == merchant_id]
    if params.type:
        if params.type.endswith(".*"):
            where.append(events.c.type.startswith(params.type[:-1]))
        else:
            where.append(events.c.type == params.type)
    if params.types:
        where.append(events.c.type.in_(params.types))
    where.extend(created_clauses(events.c.created, params.created))
    return await fetch_page(session, events, params, where)


def _type_clause(patterns: list[str]) -> sa.ColumnElement[bool]:
    """Event types to keep: exact names, or ``prefix.*`` for a family."""
    return sa.or_(
        *(
            events.c.type.startswith(p[:-1]) if p.endswith(".*") else events.c.type == p
            for p in patterns
        )
    )


async def after(
    session: Session,
    merchant_id: str,
    cursor: str,
    horizon: str,
    types: list[str],
    limit: int,
) -> list[sa.Row[Any]]:
    """A merchant's events with ``cursor < id <= horizon``, oldest first."""
    query = sa.select(events).where(
        events.c.merchant_id == merchant_id, events.c.id > cursor, events.c.id <= horizon
    )
    if types:
        query = query.where(_type_clause(types))
    query = query.order_by(events.c.id).limit(limit)
    return list((await session.execute(query)).all())


async def about_objects(
    session: Session, merchant_id: str, object_ids: list[str]
) -> list[sa.Row[Any]]:
    """The merchant's events whose subject is one of these objects, oldest first."""
    if not object_ids:
        return []
    query = (
        sa.select(events)
        .where(events.c.merchant_id == merchant_id, events.c.object_id.in_(object_ids))
        .order_by(events.c.id)
    )
    return list((await session.execute(query)).all())
