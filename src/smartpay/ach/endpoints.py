"""ACH routes: /v1/ach_debits, /v1/payouts, /v1/mandates and /v1/reports/costs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from pydantic import Field

from smartpay.ach import bank_accounts, costs, service
from smartpay.ach.models import Direction
from smartpay.ach.schemas import (
    AchDebitCreate,
    PayoutCreate,
    TransferCancel,
    TransferList,
    render_debit,
    render_payout,
)
from smartpay.dependencies import DatabaseDep, SecretAuth, SettingsDep, Write, ok
from smartpay.kit.api import body_doc, body_of, query_doc, query_of
from smartpay.kit.db import Session
from smartpay.kit.pagination import CreatedFilter, list_body
from smartpay.kit.params import StripeParams

router = APIRouter(tags=["ach"])
BODY_MODELS = [AchDebitCreate, PayoutCreate, TransferCancel]


class CostReportQuery(StripeParams):
    created: CreatedFilter | None = Field(default=None)


@router.post("/v1/ach_debits", openapi_extra=body_doc(AchDebitCreate))
async def create_ach_debit(
    ctx: Write, params: Annotated[AchDebitCreate, Depends(body_of(AchDebitCreate))]
) -> Response:
    async def work(session: Session) -> dict[str, Any]:
        row = await service.create_debit(session, ctx.merchant.merchant_id, params, ctx.settings)
        return render_debit(row)

    return await ctx.run(work)


@router.get("/v1/ach_debits/{debit_id}")
async def retrieve_ach_debit(debit_id: str, merchant: SecretAuth, db: DatabaseDep) -> Response:
    async with db.transaction() as session:
        row = await service.get(session, merchant.merchant_id, debit_id, Direction.DEBIT)
    return ok(render_debit(row))


@router.get("/v1/ach_debits", openapi_extra=query_doc(TransferList))
async def list_ach_debits(
    merchant: SecretAuth,
    db: DatabaseDep,
    params: Annotated[TransferList, Depends(query_of(TransferList))],
) -> Response:
    async with db.transaction() as session:
        page = await service.list_(session, merchant.merchant_id, Direction.DEBIT, params)
    return ok(list_body("/v1/ach_debits", [render_debit(r) for r in page.rows], page.has_more))


@router.post("/v1/ach_debits/{debit_id}/cancel", openapi_extra=body_doc(TransferCancel))
async def cancel_ach_debit(
    debit_id: str,
    ctx: Write,
    params: Annotated[TransferCancel, Depends(body_of(TransferCancel))],
) -> Response:
    async def work(session: Session) -> dict[str, Any]:
        row = await service.cancel(session, ctx.merchant.merchant_id, debit_id, Direction.DEBIT)
        return render_debit(row)

    return await ctx.run(work)


@router.post("/v1/payouts", openapi_extra=body_doc(PayoutCreate))
async def create_payout(
    ctx: Write, params: Annotated[PayoutCreate, Depends(body_of(PayoutCreate))]
) -> Response:
    async def work(session: Session) -> dict[str, Any]:
        row = await service.create_payout(session, ctx.merchant.merchant_id, params, ctx.settings)
        return render_payout(row)

    return await ctx.run(work)


@router.get("/v1/payouts/{payout_id}")
async def retrieve_payout(payout_id: str, merchant: SecretAuth, db: DatabaseDep) -> Response:
    async with db.transaction() as session:
        row = await service.get(session, merchant.merchant_id, payout_id, Direction.CREDIT)
    return ok(render_payout(row))


@router.get("/v1/payouts", openapi_extra=query_doc(TransferList))
async def list_payouts(
    merchant: SecretAuth,
    db: DatabaseDep,
    params: Annotated[TransferList, Depends(query_of(TransferList))],
) -> Response:
    async with db.transaction() as session:
        page = await service.list_(session, merchant.merchant_id, Direction.CREDIT, params)
    return ok(list_body("/v1/payouts", [render_payout(r) for r in page.rows], page.has_more))


@router.post("/v1/payouts/{payout_id}/cancel", openapi_extra=body_doc(TransferCancel))
async def cancel_payout(
    payout_id: str,
    ctx: Write,
    params: Annotated[TransferCancel, Depends(body_of(TransferCancel))],
) -> Response:
    async def work(session: Session) -> dict[str, Any]:
        row = await service.cancel(session, ctx.merchant.merchant_id, payout_id, Direction.CREDIT)
        return render_payout(row)

    return await ctx.run(work)


@router.get("/v1/mandates/{mandate_id}")
async def retrieve_mandate(mandate_id: str, merchant: SecretAuth, db: DatabaseDep) -> Response:
    async with db.transaction() as session:
        row = await service.get_mandate(session, merchant.merchant_id, mandate_id)
    return ok(bank_accounts.render_mandate(row))


@router.get("/v1/reports/costs", openapi_extra=query_doc(CostReportQuery))
async def cost_report(
    merchant: SecretAuth,
    db: DatabaseDep,
    settings: SettingsDep,
    params: Annotated[CostReportQuery, Depends(query_of(CostReportQuery))],
) -> Response:
    created = params.created or CreatedFilter()
    gte = created.gte if created.gte is not None else (created.gt + 1 if created.gt else None)
    lt = created.lt if created.lt is not None else (created.lte + 1 if created.lte else None)
    async with db.transaction() as session:
        body = await costs.report(session, merchant.merchant_id, settings, gte, lt)
    return ok(body)
