from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from smartpay.dependencies import DatabaseDep, SecretAuth, ok
from smartpay.events import service
from smartpay.events.schemas import EventList, render_event
from smartpay.kit.api import query_doc, query_of
from smartpay.kit.pagination import list_body

router = APIRouter(prefix="/v1/events", tags=["events"])


@router.get("/{event_id}")
async def retrieve_event(event_id: str, merchant: SecretAuth, db: DatabaseDep) -> Response:
    async with db.transaction() as session:
        return ok(render_event(await service.get(session, merchant.merchant_id, event_id)))


@router.get("", openapi_extra=query_doc(EventList))
async def list_events(
    merchant: SecretAuth,
    db: DatabaseDep,
    params: Annotated[EventList, Depends(query_of(EventList))],
) -> Response:
    async with db.transaction() as session:
        page = await service.list_(session, merchant.merchant_id, params)
    return ok(list_body("/v1/events", [render_event(r) for r in page.rows], page.has_more))
