from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from smartpay.dependencies import DatabaseDep, SecretAuth, VaultDep, Write, ok
from smartpay.kit.api import body_doc, body_of, query_doc, query_of
from smartpay.kit.db import Session
from smartpay.kit.pagination import list_body
from smartpay.payments import service
from smartpay.payments.flows import PaymentFlows
from smartpay.payments.schemas import (
    ChargeList,
    PaymentIntentCancel,
    PaymentIntentCapture,
    PaymentIntentConfirm,
    PaymentIntentCreate,
    PaymentIntentList,
    PaymentIntentUpdate,
    RefundCreate,
    RefundList,
    RefundUpdate,
    render_charge,
    render_payment_intent,
    render_refund,
)

router = APIRouter(tags=["payments"])
BODY_MODELS = [
    PaymentIntentCreate,
    PaymentIntentUpdate,
    PaymentIntentConfirm,
    PaymentIntentCapture,
    PaymentIntentCancel,
    RefundCreate,
    RefundUpdate,
]


def get_flows(request: Request) -> PaymentFlows:
    flows: PaymentFlows = request.app.state.payment_flows
    return flows


Flows = Annotated[PaymentFlows, Depends(get_flows)]


@router.post("/v1/payment_intents", openapi_extra=body_doc(PaymentIntentCreate))
async def create_payment_intent(
    ctx: Write,
    params: Annotated[PaymentIntentCreate, Depends(body_of(PaymentIntentCreate))],
    flows: Flows,
) -> Response:
    return await flows.create_and_maybe_confirm(ctx, params)


@router.get("/v1/payment_intents/{intent_id}")
async def retrieve_payment_intent(
    intent_id: str, merchant: SecretAuth, db: DatabaseDep
) -> Response:
    async with db.transaction() as session:
        row = await service.get_intent(session, merchant.merchant_id, intent_id)
    return ok(render_payment_intent(row))


@router.post("/v1/payment_intents/{intent_id}", openapi_extra=body_doc(PaymentIntentUpdate))
async def update_payment_intent(
    intent_id: str,
    ctx: Write,
    params: Annotated[PaymentIntentUpdate, Depends(body_of(PaymentIntentUpdate))],
    vault: VaultDep,
) -> Response:
    async def work(session: Session) -> dict[str, Any]:
        row = await service.update_intent(
            session, ctx.merchant.merchant_id, intent_id, params, vault=vault
        )
        return render_payment_intent(row)

    return await ctx.run(work)


@router.post(
    "/v1/payment_intents/{intent_id}/confirm", openapi_extra=body_doc(PaymentIntentConfirm)
)
async def confirm_payment_intent(
    intent_id: str,
    ctx: Write,
    params: Annotated[PaymentIntentConfirm, Depends(body_of(PaymentIntentConfirm))],
    flows: Flows,
) -> Response:
    return await flows.confirm(ctx, intent_id, params)


@router.post(
    "/v1/payment_intents/{intent_id}/capture", openapi_extra=body_doc(PaymentIntentCapture)
)
async def capture_payment_intent(
    intent_id: str,
    ctx: Write,
    params: Annotated[PaymentIntentCapture, Depends(body_of(PaymentIntentCapture))],
    flows: Flows,
) -> Response:
    return await flows.capture(ctx, intent_id, params)


@router.post("/v1/payment_intents/{intent_id}/cancel", openapi_extra=body_doc(PaymentIntentCancel))
async def cancel_payment_intent(
    intent_id: str,
    ctx: Write,
    params: Annotated[PaymentIntentCancel, Depends(body_of(PaymentIntentCancel))],
    flows: Flows,
) -> Response:
    return await flows.cancel(ctx, intent_id, params)


@router.get("/v1/payment_intents", openapi_extra=query_doc(PaymentIntentList))
async def list_payment_intents(
    merchant: SecretAuth,
    db: DatabaseDep,
    params: Annotated[PaymentIntentList, Depends(query_of(PaymentIntentList))],
) -> Response:
    async with db.transaction() as session:
        page = await service.list_intents(session, merchant.merchant_id, params)
    data = [render_payment_intent(r) for r in page.rows]
    return ok(list_body("/v1/payment_intents", data, page.has_more))


@router.get("/v1/charges/{charge_id}")
async def retrieve_charge(charge_id: str, merchant: SecretAuth, db: DatabaseDep) -> Response:
    async with db.transaction() as session:
        return ok(render_charge(await service.get_charge(session, merchant.merchant_id, charge_id)))


@router.get("/v1/charges", openapi_extra=query_doc(ChargeList))
async def list_charges(
    merchant: SecretAuth,
    db: DatabaseDep,
    params: Annotated[ChargeList, Depends(query_of(ChargeList))],
) -> Response:
    async with db.transaction() as session:
        page = await service.list_charges(session, merchant.merchant_id, params)
    return ok(list_body("/v1/charges", [render_charge(r) for r in page.rows], page.has_more))


@router.post("/v1/refunds", openapi_extra=body_doc(RefundCreate))
async def create_refund(
    ctx: Write,
    params: Annotated[RefundCreate, Depends(body_of(RefundCreate))],
    flows: Flows,
) -> Response:
    return await flows.refund(ctx, params)


@router.get("/v1/refunds/{refund_id}")
async def retrieve_refund(refund_id: str, merchant: SecretAuth, db: DatabaseDep) -> Response:
    async with db.transaction() as session:
        return ok(render_refund(await service.get_refund(session, merchant.merchant_id, refund_id)))


@router.post("/v1/refunds/{refund_id}", openapi_extra=body_doc(RefundUpdate))
async def update_refund(
    refund_id: str,
    ctx: Write,
    params: Annotated[RefundUpdate, Depends(body_of(RefundUpdate))],
) -> Response:
    async def work(session: Session) -> dict[str, Any]:
        row = await service.update_refund(session, ctx.merchant.merchant_id, refund_id, params)
        return render_refund(row)

    return await ctx.run(work)


@router.get("/v1/refunds", openapi_extra=query_doc(RefundList))
async def list_refunds(
    merchant: SecretAuth,
    db: DatabaseDep,
    params: Annotated[RefundList, Depends(query_of(RefundList))],
) -> Response:
    async with db.transaction() as session:
        page = await service.list_refunds(session, merchant.merchant_id, params)
    return ok(list_body("/v1/refunds", [render_refund(r) for r in page.rows], page.has_more))
