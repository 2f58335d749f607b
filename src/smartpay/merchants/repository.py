from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from smartpay.kit.db import Session
from smartpay.merchants.models import api_keys, merchants


async def insert_merchant(session: Session, *, merchant_id: str, name: str, created: int) -> None:
    await session.execute(sa.insert(merchants).values(id=merchant_id, name=name, created=created))


async def insert_key(session: Session, **values: Any) -> None:
    await session.execute(sa.insert(api_keys), values)


async def find_by_key_hash(session: Session, key_hash: str) -> sa.Row[Any] | None:
    query = (
        sa.select(api_keys.c.merchant_id, api_keys.c.kind, merchants.c.name)
        .join(merchants, merchants.c.id == api_keys.c.merchant_id)
        .where(api_keys.c.key_hash == key_hash, api_keys.c.revoked.is_(False))
    )
    return (await session.execute(query)).first()


async def list_merchants(session: Session) -> list[sa.Row[Any]]:
    return list((await session.execute(sa.select(merchants).order_by(merchants.c.created))).all())


async def get_merchant(session: Session, merchant_id: str) -> sa.Row[Any] | None:
    query = sa.select(merchants).where(merchants.c.id == merchant_id)
    return (await session.execute(query)).first()
