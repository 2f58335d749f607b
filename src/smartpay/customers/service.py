from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from smartpay.customers import repository
from smartpay.customers.schemas import CustomerCreate, CustomerList, CustomerUpdate
from smartpay.errors import ResourceMissing
from smartpay.kit.clock import now
from smartpay.kit.db import Session
from smartpay.kit.ids import new_id
from smartpay.kit.pagination import Page
from smartpay.kit.params import merge_metadata


async def create(session: Session, merchant_id: str, params: CustomerCreate) -> sa.Row[Any]:
    customer_id = new_id("cus")
    await repository.insert(
        session,
        id=customer_id,
        merchant_id=merchant_id,
        email=params.email,
        name=params.name,
        phone=params.phone,
        description=params.description,
        metadata=merge_metadata({}, params.metadata),
        created=now(),
        deleted=False,
    )
    return await get(session, merchant_id, customer_id)


async def get(
    session: Session, merchant_id: str, customer_id: str, *, param: str = "id"
) -> sa.Row[Any]:
    row = await repository.get(session, merchant_id, customer_id)
    if row is None:
        raise ResourceMissing(f"No such customer: '{customer_id}'", param=param)
    return row


async def update(
    session: Session, merchant_id: str, customer_id: str, params: CustomerUpdate
) -> sa.Row[Any]:
    row = await get(session, merchant_id, customer_id)
    changes: dict[str, Any] = {
        field: getattr(params, field)
        for field in ("email", "name", "phone", "description")
        if field in params.model_fields_set
    }
    if params.metadata is not None:
        changes["metadata"] = merge_metadata(row.metadata or {}, params.metadata)
    if changes:
        await repository.update(session, customer_id, **changes)
    return await get(session, merchant_id, customer_id)


async def delete(session: Session, merchant_id: str, customer_id: str) -> None:
    await get(session, merchant_id, customer_id)
    await repository.update(session, customer_id, deleted=True)


async def list_(session: Session, merchant_id: str, params: CustomerList) -> Page:
    return await repository.page(session, merchant_id, params)
