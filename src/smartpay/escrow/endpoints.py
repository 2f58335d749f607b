"""Escrow routes (/v1/escrows): create, retrieve, list, release, confirm_completion,
dispute and resolve_dispute."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from smartpay.dependencies import DatabaseDep, SecretAuth, Write, WriteContext, ok
from smartpay.errors import InvalidRequest
from smartpay.escrow import repository, service
from smartpay.escrow.models import EscrowStatus
from smartpay.escrow.service import (
    EscrowCreate,
    EscrowDispute,
    EscrowEmpty,
    EscrowRelease,
    EscrowResolve,
)
from smartpay.kit.api import body_doc, body_of, query_doc, query_of
from smartpay.kit.clock import now
from smartpay.kit.db import Session
from smartpay.kit.pagination import ListParams, list_body
from smartpay.kit.params import StripeParams
from smartpay.payments.schemas import RefundCreate

router = APIRouter(prefix="/v1/escrows", tags=["escrows"])
BODY_MODELS = [EscrowCreate, EscrowRelease, EscrowDispute, EscrowResolve, EscrowEmpty]
# The refund of a disputed escrow runs through the payments refund flow under this
# Idempotency-Key, derived from the escrow: a retried resolution replays the same refund.
REFUND_KEY_PREFIX = "smartpay-escrow-refund-"


class EscrowListParams(ListParams, StripeParams):
    pass


@router.post("", openapi_extra=body_doc(EscrowCreate))
async def create_escrow(
    ctx: Write, params: Annotated[EscrowCreate, Depends(body_of(EscrowCreate))]
) -> Response:
    async def work(session: Session) -> dict[str, Any]:
        return service.render(await service.create(session, ctx.merchant.merchant_id, params))

    return await ctx.run(work)


@router.get("/{escrow_id}")
async def retrieve_escrow(escrow_id: str, merchant: SecretAuth, db: DatabaseDep) -> Response:
    async with db.transaction() as session:
        row = await service.get(session, merchant.merchant_id, escrow_id)
    return ok(service.render(row))


@router.get("", openapi_extra=query_doc(EscrowListParams))
async def list_escrows(
    merchant: SecretAuth,
    db: DatabaseDep,
    params: Annotated[EscrowListParams, Depends(query_of(EscrowListParams))],
) -> Response:
    async with db.transaction() as session:
        page = await repository.page(session, merchant.merchant_id, params)
    return ok(list_body("/v1/escrows", [service.render(r) for r in page.rows], page.has_more))


@router.post("/{escrow_id}/release", openapi_extra=body_doc(EscrowRelease))
async def release_escrow(
    escrow_id: str, ctx: Write, params: Annotated[EscrowRelease, Depends(body_of(EscrowRelease))]
) -> Response:
    async def work(session: Session) -> dict[str, Any]:
        row = await service.get(session, ctx.merchant.merchant_id, escrow_id)
        return service.render(await service.release(session, row, params.amount, ctx.settings))

    return await ctx.run(work)


@router.post("/{escrow_id}/confirm_completion", openapi_extra=body_doc(EscrowEmpty))
async def confirm_completion(
    escrow_id: str, ctx: Write, params: Annotated[EscrowEmpty, Depends(body_of(EscrowEmpty))]
) -> Response:
    async def work(session: Session) -> dict[str, Any]:
        row = await service.get(session, ctx.merchant.merchant_id, escrow_id)
        return service.render(await service.confirm_completion(session, row, now(), ctx.settings))

    return await ctx.run(work)


@router.post("/{escrow_id}/dispute", openapi_extra=body_doc(EscrowDispute))
async def dispute_escrow(
    escrow_id: str, ctx: Write, params: Annotated[EscrowDispute, Depends(body_of(EscrowDispute))]
) -> Response:
    async def work(session: Session) -> dict[str, Any]:
        row = await service.get(session, ctx.merchant.merchant_id, escrow_id)
        return service.render(await service.dispute(session, row, params.reason, now()))

    return await ctx.run(work)


@router.post("/{escrow_id}/resolve_dispute", openapi_extra=body_doc(EscrowResolve))
async def resolve_dispute(
    escrow_id: str,
    request: Request,
    ctx: Write,
    params: Annotated[EscrowResolve, Depends(body_of(EscrowResolve))],
) -> Response:
    """``outcome=release``: what remains goes to the provider. ``outcome=refund``: what
    remains is refunded to the customer through the payments refund flow, then leaves
    escrow. A refund whose outcome is still unknown leaves the escrow disputed with its
    ``refund`` set; the worker finishes it when the refund succeeds."""
    merchant_id = ctx.merchant.merchant_id
    if params.outcome == "release":

        async def work(session: Session) -> dict[str, Any]:
            row = await service.get(session, merchant_id, escrow_id)
            return service.render(await service.resolve_by_release(session, row, ctx.settings))

        return await ctx.run(work)

    async with ctx.database.transaction() as session:
        row = await service.get(session, merchant_id, escrow_id)
        service.require_disputed(row)
        amount = service.remaining(row)
    if amount <= 0:
        raise InvalidRequest("Nothing is left in this escrow to refund.", param="outcome")
    key = f"{REFUND_KEY_PREFIX}{escrow_id}"
    refund_ctx = WriteContext(
        database=ctx.database,
        settings=ctx.settings,
        merchant=ctx.merchant,
        idempotency_key=key,
        fingerprint=f"escrow-refund:{escrow_id}:{amount}",
    )
    flows = request.app.state.payment_flows
    response = await flows.refund(
        refund_ctx,
        RefundCreate(charge=row.charge_id, amount=amount, reason="requested_by_customer"),
    )
    refund = json.loads(bytes(response.body))
    async with ctx.database.transaction() as session:
        row = await service.get(session, merchant_id, escrow_id)
        if row.status == EscrowStatus.DISPUTED:
            if refund.get("status") == "succeeded":
                row = await service.apply_refund(session, row, refund["id"], amount)
            else:
                await repository.set_fields(session, row.id, refund_id=refund.get("id"))
                row = await service.get(session, merchant_id, escrow_id)
    return ok(service.render(row))
