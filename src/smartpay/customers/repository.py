from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from smartpay.customers.models import customers
from smartpay.customers.schemas import CustomerList
from smartpay.kit.db import Session
from smartpay.kit.pagination import Page, created_clauses, fetch_page


async def insert(session: Session, **values: Any) -> None:
    await session.execute(sa.insert(customers), values)


async def get(session: Session, merchant_id: str, customer_id: str) -> sa.Row[Any] | None:
    query = sa.select(customers).where(
        customers.c.id == customer_id,
        customers.c.merchant_id == merchant_id,
        customers.c.deleted.is_(False),
    )
    return (await session.execute(query)).first()


async def update(session: Session, customer_id: str, **values: Any) -> None:
    await session.execute(
        sa.update(customers).where(customers.c.id == customer_id).values(**values)
    )


async def page(session: Session, merchant_id: str, params: CustomerList) -> Page:
    where = [customers.c.merchant_id == merchant_id, customers.c.deleted.is_(False)]
    if params.email:
        where.append(customers.c.email == params.email)
    where.extend(created_clauses(customers.c.created, params.created))
    return await fetch_page(session, customers, params, where)
