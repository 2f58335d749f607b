from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from smartpay.dependencies import DatabaseDep, SecretAuth, VaultDep, Write, WriteContext, ok
from smartpay.kit.api import body_doc, body_of, query_doc, query_of
from smartpay.kit.db import Database, Session
from smartpay.kit.pagination import list_body
from smartpay.kit.params import StripeParams
from smartpay.payments import service
from smartpay.payments.expansion import check_paths, expand, expand_response
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
# Retrieve endpoints take only ``expand[]`` in the query string.
Expand = Annotated[StripeParams, Depends(query_of(StripeParams))]


async def _expanded(ctx: WriteContext, response: Response, paths: list[str] | None) -> Response:
    return await expand_response(ctx.database, ctx.merchant.merchant_id, response, paths)


async def _retrieve(
    db: Database, merchant_id: str, body_of_row: Any, paths: list[str] | None
) -> Response:
    async with db.transaction() as session:
        body = await body_of_row(session)
        return ok(await expand(session, merchant_id, body, paths))


# ----------------------------------------------------------------- payment intents


@router.post("/v1/payment_intents", openapi_extra=body_doc(PaymentIntentCreate))
async def create_payment_intent(
    ctx: Write,
    params: Annotated[PaymentIntentCreate, Depends(body_of(PaymentIntentCreate))],
    flows: Flows,
) -> Response:
    check_paths("payment_intent", params.expand)
    return await _expanded(ctx, await flows.create_and_maybe_confirm(ctx, params), params.expand)


@router.get("/v1/payment_intents/{intent_id}")
async def retrieve_payment_intent(
    intent_id: str, merchant: SecretAuth, db: DatabaseDep, params: Expand
) -> Response:
    check_paths("payment_intent", params.expand)

    async def load(session: Session) -> dict[str, Any]:
        return render_payment_intent(
            await service.get_intent(session, merchant.merchant_id, intent_id)
        )

    return await _retrieve(db, merchant.merchant_id, load, params.expand)


@router.post("/v1/payment_intents/{intent_id}", openapi_extra=body_doc(PaymentIntentUpdate))
async def update_payment_intent(
    intent_id: str,
    ctx: Write,
    params: Annotated[PaymentIntentUpdate, Depends(body_of(PaymentIntentUpdate))],
    vault: VaultDep,
) -> Response:
    check_paths("payment_intent", params.expand)

    async def work(session: Session) -> dict[str, Any]:
        row = await service.update_intent(
            session, ctx.merchant.merchant_id, intent_id, params, vault=vault
        )
        return render_payment_intent(row)

    return await _expanded(ctx, await ctx.run(work), params.expand)


@router.post(
    "/v1/payment_intents/{intent_id}/confirm", openapi_extra=body_doc(PaymentIntentConfirm)
)
async def confirm_payment_intent(
    intent_id: str,
    ctx: Write,
    params: Annotated[PaymentIntentConfirm, Depends(body_of(PaymentIntentConfirm))],
    flows: Flows,
) -> Response:
    check_paths("payment_intent", params.expand)
    return await _expanded(ctx, await flows.confirm(ctx, intent_id, params), params.expand)


@router.post(
    "/v1/payment_intents/{intent_id}/capture", openapi_extra=body_doc(PaymentIntentCapture)
)
async def capture_payment_intent(
    intent_id: str,
    ctx: Write,
    params: Annotated[PaymentIntentCapture, Depends(body_of(PaymentIntentCapture))],
    flows: Flows,
) -> Response:
    check_paths("payment_intent", params.expand)
    return await _expanded(ctx, await flows.capture(ctx, intent_id, params), params.expand)


@router.post("/v1/payment_intents/{intent_id}/cancel", openapi_extra=body_doc(PaymentIntentCancel))
async def cancel_payment_intent(
    intent_id: str,
    ctx: Write,
    params: Annotated[PaymentIntentCancel, Depends(body_of(PaymentIntentCancel))],
    flows: Flows,
) -> Response:
    check_paths("payment_intent", params.expand)
    return await _expanded(ctx, await flows.cancel(ctx, intent_id, params), params.expand)


@router.get("/v1/payment_intents", openapi_extra=query_doc(PaymentIntentList))
async def list_payment_intents(
    merchant: SecretAuth,
    db: DatabaseDep,
    params: Annotated[PaymentIntentList, Depends(query_of(PaymentIntentList))],
) -> Response:
    check_paths("payment_intent", params.expand, listed=True)

    async def load(session: Session) -> dict[str, Any]:
        page = await service.list_intents(session, merchant.merchant_id, params)
        data = [render_payment_intent(r) for r in page.rows]
        return list_body("/v1/payment_intents", data, page.has_more)

    return await _retrieve(db, merchant.merchant_id, load, params.expand)


# ----------------------------------------------------------------- charges


@router.get("/v1/charges/{charge_id}")
async def retrieve_charge(
    charge_id: str, merchant: SecretAuth, db: DatabaseDep, params: Expand
) -> Response:
    check_paths("charge", params.expand)

    async def load(session: Session) -> dict[str, Any]:
        return render_charge(await service.get_charge(session, merchant.merchant_id, charge_id))

    return await _retrieve(db, merchant.merchant_id, load, params.expand)


@router.get("/v1/charges", openapi_extra=query_doc(ChargeList))
async def list_charges(
    merchant: SecretAuth,
    db: DatabaseDep,
    params: Annotated[ChargeList, Depends(query_of(ChargeList))],
) -> Response:
    check_paths("charge", params.expand, listed=True)

    async def load(session: Session) -> dict[str, Any]:
        page = await service.list_charges(session, merchant.merchant_id, params)
        return list_body("/v1/charges", [render_charge(r) for r in page.rows], page.has_more)

    return await _retrieve(db, merchant.merchant_id, load, params.expand)


# ----------------------------------------------------------------- refunds


@router.post("/v1/refunds", openapi_extra=body_doc(RefundCreate))
async def create_refund(
    ctx: Write,
    params: Annotated[RefundCreate, Depends(body_of(RefundCreate))],
    flows: Flows,
) -> Response:
    check_paths("refund", params.expand)
    return await _expanded(ctx, await flows.refund(ctx, params), params.expand)


@router.get("/v1/refunds/{refund_id}")
async def retrieve_refund(
    refund_id: str, merchant: SecretAuth, db: DatabaseDep, params: Expand
) -> Response:
    check_paths("refund", params.expand)

    async def load(session: Session) -> dict[str, Any]:
        return render_refund(await service.get_refund(session, merchant.merchant_id, refund_id))

    return await _retrieve(db, merchant.merchant_id, load, params.expand)


@router.post("/v1/refunds/{refund_id}", openapi_extra=body_doc(RefundUpdate))
async def update_refund(
    refund_id: str,
    ctx: Write,
    params: Annotated[RefundUpdate, Depends(body_of(RefundUpdate))],
) -> Response:
    check_paths("refund", params.expand)

    async def work(session: Session) -> dict[str, Any]:
        row = await service.update_refund(session, ctx.merchant.merchant_id, refund_id, params)
        return render_refund(row)

    return await _expanded(ctx, await ctx.run(work), params.expand)


@router.get("/v1/refunds", openapi_extra=query_doc(RefundList))
async def list_refunds(
    merchant: SecretAuth,
    db: DatabaseDep,
    params: Annotated[RefundList, Depends(query_of(RefundList))],
) -> Response:
    check_paths("refund", params.expand, listed=True)

    async def load(session: Session) -> dict[str, Any]:
        page = await service.list_refunds(session, merchant.merchant_id, params)
        return list_body("/v1/refunds", [render_refund(r) for r in page.rows], page.has_more)

    return await _retrieve(db, merchant.merchant_id, load, params.expand)
