"""Every SQL statement of the dashboard: users, sessions, and the figures it draws."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from smartpay.dashboard.models import dashboard_sessions, dashboard_users
from smartpay.kit.db import Session
from smartpay.payments.models import ChargeStatus, charges, payment_intents

SECONDS_PER_DAY = 86_400


async def insert_user(session: Session, **values: Any) -> None:
    await session.execute(sa.insert(dashboard_users).values(**values))


async def user_by_email(session: Session, email: str) -> sa.Row[Any] | None:
    query = sa.select(dashboard_users).where(dashboard_users.c.email == email)
    return (await session.execute(query)).first()


async def insert_session(session: Session, **values: Any) -> None:
    await session.execute(sa.insert(dashboard_sessions).values(**values))


async def user_by_session(session: Session, token_hash: str, now: int) -> sa.Row[Any] | None:
    query = (
        sa.select(dashboard_users)
        .join(dashboard_sessions, dashboard_sessions.c.user_id == dashboard_users.c.id)
        .where(
            dashboard_sessions.c.token_hash == token_hash,
            dashboard_sessions.c.expires_at > now,
            dashboard_users.c.disabled.is_(sa.false()),
        )
    )
    return (await session.execute(query)).first()


async def delete_session(session: Session, token_hash: str) -> None:
    await session.execute(
        sa.delete(dashboard_sessions).where(dashboard_sessions.c.token_hash == token_hash)
    )


async def daily_volume(
    session: Session, merchant_id: str, since: int
) -> list[tuple[int, str, int, int]]:
    """(day start, currency, captured amount, charges) per day of succeeded charges."""
    day = (charges.c.created / SECONDS_PER_DAY).cast(sa.BigInteger) * SECONDS_PER_DAY
    query = (
        sa.select(day, charges.c.currency, sa.func.sum(charges.c.amount_captured), sa.func.count())
        .where(
            charges.c.merchant_id == merchant_id,
            charges.c.created >= since,
            charges.c.status == ChargeStatus.SUCCEEDED.value,
        )
        .group_by(day, charges.c.currency)
        .order_by(day)
    )
    return [(int(d), c, int(a or 0), int(n)) for d, c, a, n in (await session.execute(query)).all()]


async def outcomes_by_processor(
    session: Session, merchant_id: str, since: int
) -> list[tuple[str, int, int]]:
    """(processor, approved, decided) over the merchant's charges since ``since``."""
    approved = sa.func.count().filter(charges.c.status == ChargeStatus.SUCCEEDED.value)
    query = (
        sa.select(charges.c.processor, approved, sa.func.count())
        .where(
            charges.c.merchant_id == merchant_id,
            charges.c.created >= since,
            charges.c.status != ChargeStatus.PENDING.value,
        )
        .group_by(charges.c.processor)
        .order_by(charges.c.processor)
    )
    return [(p, int(a), int(n)) for p, a, n in (await session.execute(query)).all()]


async def recent_intents(
    session: Session, merchant_id: str, status: str | None, limit: int
) -> list[sa.Row[Any]]:
    query = sa.select(payment_intents).where(payment_intents.c.merchant_id == merchant_id)
    if status:
        query = query.where(payment_intents.c.status == status)
    query = query.order_by(payment_intents.c.id.desc()).limit(limit)
    return list((await session.execute(query)).all())


async def intent_charges(session: Session, merchant_id: str, intent_id: str) -> list[sa.Row[Any]]:
    query = (
        sa.select(charges)
        .where(charges.c.merchant_id == merchant_id, charges.c.payment_intent_id == intent_id)
        .order_by(charges.c.id)
    )
    return list((await session.execute(query)).all())
