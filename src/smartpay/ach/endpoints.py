"""ACH routes: /v1/ach_debits, /v1/payouts, /v1/mandates and /v1/reports/costs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
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
from smartpay.config import Settings
from smartpay.dependencies import DatabaseDep, SecretAuth, SettingsDep, Write, ok
from smartpay.kit.api import body_doc, body_of, query_doc, query_of
from smartpay.kit.db import Session
from smartpay.kit.pagination import CreatedFilter, list_body
from smartpay.kit.params import StripeParams

router = APIRouter(tags=["ach"])
BODY_MODELS = [AchDebitCreate, PayoutCreate, TransferCancel]


class CostReportQuery(StripeParams):
    created: CreatedFilter | None = Field(default=None)


def _transfer_routes(
    path: str,
    direction: Direction,
    noun: str,
    create_model: type[StripeParams],
    create: Callable[[Session, str, Any, Settings], Awaitable[Any]],
    render: Callable[[Any], dict[str, Any]],
) -> None:
    """The four routes of one kind of transfer (create, retrieve, list, cancel): debits
    and payouts differ only in their path, direction, create request and rendering."""

    @router.post(path, openapi_extra=body_doc(create_model), name=f"create_{noun}")
    # A default, not an Annotated hint: hints are strings here (PEP 563) that FastAPI
    # resolves in the module's globals, where this function's create_model is not.
    async def create_transfer(
        ctx: Write,
        params: Any = Depends(body_of(create_model)),
    ) -> Response:
        async def work(session: Session) -> dict[str, Any]:
            return render(await create(session, ctx.merchant.merchant_id, params, ctx.settings))

        return await ctx.run(work)

    @router.get(f"{path}/{{transfer_id}}", name=f"retrieve_{noun}")
    async def retrieve_transfer(
        transfer_id: str, merchant: SecretAuth, db: DatabaseDep
    ) -> Response:
        async with db.transaction() as session:
            row = await service.get(session, merchant.merchant_id, transfer_id, direction)
        return ok(render(row))

    @router.get(path, openapi_extra=query_doc(TransferList), name=f"list_{noun}s")
    async def list_transfers(
        merchant: SecretAuth,
        db: DatabaseDep,
        params: Annotated[TransferList, Depends(query_of(TransferList))],
    ) -> Response:
        async with db.transaction() as session:
            page = await service.list_(session, merchant.merchant_id, direction, params)
        return ok(list_body(path, [render(r) for r in page.rows], page.has_more))

    @router.post(
        f"{path}/{{transfer_id}}/cancel",
        openapi_extra=body_doc(TransferCancel),
        name=f"cancel_{noun}",
    )
    async def cancel_transfer(
        transfer_id: str,
        ctx: Write,
        params: Annotated[TransferCancel, Depends(body_of(TransferCancel))],
    ) -> Response:
        async def work(session: Session) -> dict[str, Any]:
            merchant_id = ctx.merchant.merchant_id
            return render(await service.cancel(session, merchant_id, transfer_id, direction))

        return await ctx.run(work)


_transfer_routes(
    "/v1/ach_debits",
    Direction.DEBIT,
    "ach_debit",
    AchDebitCreate,
    service.create_debit,
    render_debit,
)
_transfer_routes(
    "/v1/payouts", Direction.CREDIT, "payout", PayoutCreate, service.create_payout, render_payout
)


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
