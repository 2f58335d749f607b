"""Every SQL statement of the escrow domain."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from smartpay.escrow.models import EscrowStatus, escrow_movements, escrows
from smartpay.kit.db import Session
from smartpay.kit.pagination import ListParams, Page, fetch_page
from smartpay.payments.models import refunds


async def insert(session: Session, **values: Any) -> None:
    await session.execute(sa.insert(escrows), values)


async def get(
    session: Session, merchant_id: str, escrow_id: str, *, for_update: bool = False
) -> sa.Row[Any] | None:
    query = sa.select(escrows).where(
        escrows.c.id == escrow_id, escrows.c.merchant_id == merchant_id
    )
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).first()


async def update(session: Session, escrow_id: str, expected_status: str, **values: Any) -> bool:
    result = await session.execute(
        sa.update(escrows)
        .where(escrows.c.id == escrow_id, escrows.c.status == expected_status)
        .values(**values)
    )
    return bool(result.rowcount)


async def set_fields(session: Session, escrow_id: str, **values: Any) -> None:
    await session.execute(sa.update(escrows).where(escrows.c.id == escrow_id).values(**values))


async def held_on_charge(session: Session, charge_id: str) -> int:
    """What the charge's escrows hold or have released (refunds count as the charge's
    own refunds already)."""
    query = sa.select(
        sa.func.coalesce(sa.func.sum(escrows.c.amount_held - escrows.c.amount_refunded), 0)
    ).where(escrows.c.charge_id == charge_id)
    return int((await session.execute(query)).scalar_one())


async def insert_movement(session: Session, **values: Any) -> None:
    await session.execute(sa.insert(escrow_movements), values)


async def page(session: Session, merchant_id: str, params: ListParams) -> Page:
    return await fetch_page(session, escrows, params, [escrows.c.merchant_id == merchant_id])


async def candidates_due(session: Session, now: int, limit: int) -> list[sa.Row[Any]]:
    """Escrows that may be due for release (the service decides per condition)."""
    query = (
        sa.select(escrows)
        .where(
            escrows.c.status.in_(
                [EscrowStatus.HOLDING.value, EscrowStatus.PARTIALLY_RELEASED.value]
            ),
            escrows.c.release_condition != "manual",
            sa.or_(escrows.c.release_at <= now, escrows.c.completed_at.is_not(None)),
        )
        .order_by(escrows.c.id)
        .limit(limit)
    )
    return list((await session.execute(query)).all())


async def disputed_with_refund(session: Session) -> list[sa.Row[Any]]:
    """Disputed escrows whose refund was sent, with that refund's status and amount."""
    query = (
        sa.select(
            escrows,
            refunds.c.status.label("refund_status"),
            refunds.c.amount.label("refund_amount"),
        )
        .join(refunds, refunds.c.id == escrows.c.refund_id)
        .where(escrows.c.status == EscrowStatus.DISPUTED.value)
    )
    return list((await session.execute(query)).all())
