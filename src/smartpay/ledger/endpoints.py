from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from smartpay.dependencies import DatabaseDep, SecretAuth, ok
from smartpay.errors import ResourceMissing
from smartpay.kit.api import query_doc, query_of
from smartpay.kit.pagination import ListParams, list_body
from smartpay.kit.params import StripeParams
from smartpay.ledger import service

router = APIRouter(tags=["balance"])


class BalanceTransactionList(ListParams, StripeParams):
    type: Literal["charge", "refund"] | None = None


@router.get("/v1/balance")
async def retrieve_balance(merchant: SecretAuth, db: DatabaseDep) -> Response:
    async with db.transaction() as session:
        return ok(await service.get_balance(session, merchant.merchant_id))


@router.get("/v1/balance_transactions/{txn_id}")
async def retrieve_balance_transaction(
    txn_id: str, merchant: SecretAuth, db: DatabaseDep
) -> Response:
    async with db.transaction() as session:
        txn = await service.get_balance_transaction(session, merchant.merchant_id, txn_id)
    if txn is None:
        raise ResourceMissing(f"No such balance transaction: '{txn_id}'", param="id")
    return ok(txn)


@router.get("/v1/balance_transactions", openapi_extra=query_doc(BalanceTransactionList))
async def list_balance_transactions(
    merchant: SecretAuth,
    db: DatabaseDep,
    params: Annotated[BalanceTransactionList, Depends(query_of(BalanceTransactionList))],
) -> Response:
    async with db.transaction() as session:
        data, has_more = await service.list_balance_transactions(
            session,
            merchant.merchant_id,
            limit=params.limit,
            starting_after=params.starting_after,
            ending_before=params.ending_before,
            type=params.type,
        )
    return ok(list_body("/v1/balance_transactions", data, has_more))
