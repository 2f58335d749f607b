from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from smartpay.cards import service
from smartpay.cards.schemas import (
    PaymentMethodAttach,
    PaymentMethodCreate,
    PaymentMethodDetach,
    PaymentMethodList,
    PaymentMethodUpdate,
    render_payment_method,
)
from smartpay.dependencies import DatabaseDep, PublishableWrite, SecretAuth, Write, ok
from smartpay.kit.api import body_doc, body_of, query_doc, query_of
from smartpay.kit.db import Session
from smartpay.kit.pagination import list_body

router = APIRouter(prefix="/v1/payment_methods", tags=["payment_methods"])
BODY_MODELS = [PaymentMethodCreate, PaymentMethodUpdate, PaymentMethodAttach, PaymentMethodDetach]


@router.post("", openapi_extra=body_doc(PaymentMethodCreate))
async def create_payment_method(
    request: Request,
    ctx: PublishableWrite,
    params: Annotated[PaymentMethodCreate, Depends(body_of(PaymentMethodCreate))],
) -> Response:
    state = request.app.state

    async def work(session: Session) -> dict[str, Any]:
        row = await service.create(
            session,
            ctx.merchant.merchant_id,
            params,
            vault=state.vault,
            cvc_store=state.cvc_store,
            cvc_ttl_seconds=ctx.settings.cvc_ttl_seconds,
        )
        return render_payment_method(row)

    return await ctx.run(work)


@router.get("/{payment_method_id}")
async def retrieve_payment_method(
    payment_method_id: str, merchant: SecretAuth, db: DatabaseDep
) -> Response:
    async with db.transaction() as session:
        row = await service.get(session, merchant.merchant_id, payment_method_id)
    return ok(render_payment_method(row))


@router.post("/{payment_method_id}", openapi_extra=body_doc(PaymentMethodUpdate))
async def update_payment_method(
    payment_method_id: str,
    ctx: Write,
    params: Annotated[PaymentMethodUpdate, Depends(body_of(PaymentMethodUpdate))],
) -> Response:
    async def work(session: Session) -> dict[str, Any]:
        row = await service.update(session, ctx.merchant.merchant_id, payment_method_id, params)
        return render_payment_method(row)

    return await ctx.run(work)


@router.post("/{payment_method_id}/attach", openapi_extra=body_doc(PaymentMethodAttach))
async def attach_payment_method(
    payment_method_id: str,
    ctx: Write,
    params: Annotated[PaymentMethodAttach, Depends(body_of(PaymentMethodAttach))],
) -> Response:
    async def work(session: Session) -> dict[str, Any]:
        row = await service.attach(
            session, ctx.merchant.merchant_id, payment_method_id, params.customer
        )
        return render_payment_method(row)

    return await ctx.run(work)


@router.post("/{payment_method_id}/detach", openapi_extra=body_doc(PaymentMethodDetach))
async def detach_payment_method(
    payment_method_id: str,
    ctx: Write,
    params: Annotated[PaymentMethodDetach, Depends(body_of(PaymentMethodDetach))],
) -> Response:
    async def work(session: Session) -> dict[str, Any]:
        row = await service.detach(session, ctx.merchant.merchant_id, payment_method_id)
        return render_payment_method(row)

    return await ctx.run(work)


@router.get("", openapi_extra=query_doc(PaymentMethodList))
async def list_payment_methods(
    merchant: SecretAuth,
    db: DatabaseDep,
    params: Annotated[PaymentMethodList, Depends(query_of(PaymentMethodList))],
) -> Response:
    async with db.transaction() as session:
        page = await service.list_for_customer(session, merchant.merchant_id, params)
    data = [render_payment_method(r) for r in page.rows]
    return ok(list_body("/v1/payment_methods", data, page.has_more))
