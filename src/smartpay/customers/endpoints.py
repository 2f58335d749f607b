from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from smartpay.customers import service
from smartpay.customers.schemas import (
    CustomerCreate,
    CustomerList,
    CustomerUpdate,
    render_customer,
    render_deleted,
)
from smartpay.dependencies import DatabaseDep, SecretAuth, Write, ok
from smartpay.kit.api import body_doc, body_of, query_doc, query_of
from smartpay.kit.db import Session
from smartpay.kit.pagination import list_body

router = APIRouter(prefix="/v1/customers", tags=["customers"])
BODY_MODELS = [CustomerCreate, CustomerUpdate]


@router.post("", openapi_extra=body_doc(CustomerCreate))
async def create_customer(
    ctx: Write, params: Annotated[CustomerCreate, Depends(body_of(CustomerCreate))]
) -> Response:
    async def work(session: Session) -> dict[str, object]:
        return render_customer(await service.create(session, ctx.merchant.merchant_id, params))

    return await ctx.run(work)


@router.get("/{customer_id}")
async def retrieve_customer(customer_id: str, merchant: SecretAuth, db: DatabaseDep) -> Response:
    async with db.transaction() as session:
        return ok(render_customer(await service.get(session, merchant.merchant_id, customer_id)))


@router.post("/{customer_id}", openapi_extra=body_doc(CustomerUpdate))
async def update_customer(
    customer_id: str,
    ctx: Write,
    params: Annotated[CustomerUpdate, Depends(body_of(CustomerUpdate))],
) -> Response:
    async def work(session: Session) -> dict[str, object]:
        row = await service.update(session, ctx.merchant.merchant_id, customer_id, params)
        return render_customer(row)

    return await ctx.run(work)


@router.delete("/{customer_id}")
async def delete_customer(customer_id: str, merchant: SecretAuth, db: DatabaseDep) -> Response:
    async with db.transaction() as session:
        await service.delete(session, merchant.merchant_id, customer_id)
    return ok(render_deleted(customer_id))


@router.get("", openapi_extra=query_doc(CustomerList))
async def list_customers(
    merchant: SecretAuth,
    db: DatabaseDep,
    params: Annotated[CustomerList, Depends(query_of(CustomerList))],
) -> Response:
    async with db.transaction() as session:
        page = await service.list_(session, merchant.merchant_id, params)
    return ok(list_body("/v1/customers", [render_customer(r) for r in page.rows], page.has_more))
