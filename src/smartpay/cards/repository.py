from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from smartpay.cards.models import payment_methods
from smartpay.kit.db import Session
from smartpay.kit.pagination import ListParams, Page, fetch_page


async def insert(session: Session, **values: Any) -> None:
    await session.execute(sa.insert(payment_methods), values)


async def get(session: Session, merchant_id: str, payment_method_id: str) -> sa.Row[Any] | None:
    query = sa.select(payment_methods).where(
        payment_methods.c.id == payment_method_id, payment_methods.c.merchant_id == merchant_id
    )
    return (await session.execute(query)).first()


async def update(session: Session, payment_method_id: str, **values: Any) -> None:
    await session.execute(
        sa.update(payment_methods).where(payment_methods.c.id == payment_method_id).values(**values)
    )


async def page_for_customer(
    session: Session, merchant_id: str, customer_id: str, params: ListParams
) -> Page:
    where = [
        payment_methods.c.merchant_id == merchant_id,
        payment_methods.c.customer_id == customer_id,
    ]
    return await fetch_page(session, payment_methods, params, where)
