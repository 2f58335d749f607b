from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from smartpay.dependencies import DatabaseDep, SecretAuth, SettingsDep, Write, WriteContext, ok
from smartpay.kit.api import body_doc, body_of, query_doc, query_of
from smartpay.kit.clock import now
from smartpay.kit.db import Session
from smartpay.kit.pagination import list_body
from smartpay.vault.keys import KeyProvider
from smartpay.webhooks import service
from smartpay.webhooks.schemas import (
    EndpointCreate,
    EndpointList,
    EndpointUpdate,
    EventRetry,
    render_deleted,
    render_endpoint,
)

endpoint_router = APIRouter(prefix="/v1/webhook_endpoints", tags=["webhook_endpoints"])
# SmartPay extensions under /v1/events: the delivery log and re-sending.
events_router = APIRouter(prefix="/v1/events", tags=["events"])
BODY_MODELS = [EndpointCreate, EndpointUpdate, EventRetry]


def _keys(request: Request) -> KeyProvider:
    keys: KeyProvider = request.app.state.platform.keyring
    return keys


KeysDep = Annotated[KeyProvider, Depends(_keys)]


async def _run_with_secret(
    ctx: WriteContext, work: Callable[[Session], Awaitable[tuple[dict[str, Any], str]]]
) -> Response:
    """Like ``ctx.run``, except that the secret is in the response but not in the stored
    idempotent replay: a secret is never kept in plaintext, and is shown only once."""

    async def attempt() -> Response:
        async with ctx.database.transaction() as session:
            replay = await ctx.claim(session)
            if replay is not None:
                return replay
            body, secret = await work(session)
            await ctx.complete(session, 200, {**body, "secret": None})
        return ok({**body, "secret": secret})

    return await ctx.retrying_conflicts(attempt)


@endpoint_router.post("", openapi_extra=body_doc(EndpointCreate))
async def create_webhook_endpoint(
    ctx: Write,
    keys: KeysDep,
    params: Annotated[EndpointCreate, Depends(body_of(EndpointCreate))],
) -> Response:
    """Create an endpoint. The response's ``secret`` (``whsec_…``) is shown only here."""
    await service.check_url(params.url, ctx.settings)

    async def work(session: Session) -> tuple[dict[str, Any], str]:
        row, secret = await service.create(session, keys, ctx.merchant.merchant_id, params)
        return render_endpoint(row), secret

    return await _run_with_secret(ctx, work)


@endpoint_router.get("/{endpoint_id}")
async def retrieve_webhook_endpoint(
    endpoint_id: str, merchant: SecretAuth, db: DatabaseDep
) -> Response:
    async with db.transaction() as session:
        return ok(render_endpoint(await service.get(session, merchant.merchant_id, endpoint_id)))


@endpoint_router.post("/{endpoint_id}", openapi_extra=body_doc(EndpointUpdate))
async def update_webhook_endpoint(
    endpoint_id: str,
    ctx: Write,
    params: Annotated[EndpointUpdate, Depends(body_of(EndpointUpdate))],
) -> Response:
    if params.url is not None:
        await service.check_url(params.url, ctx.settings)

    async def work(session: Session) -> dict[str, Any]:
        row = await service.update(session, ctx.merchant.merchant_id, endpoint_id, params)
        return render_endpoint(row)

    return await ctx.run(work)


@endpoint_router.post("/{endpoint_id}/rotate_secret")
async def rotate_webhook_endpoint_secret(
    endpoint_id: str, ctx: Write, keys: KeysDep, settings: SettingsDep
) -> Response:
    """SmartPay extension: a new signing secret, shown once. The previous secret keeps
    signing too (a second ``v1=`` in ``Stripe-Signature``) for
    ``SMARTPAY_WEBHOOK_SECRET_OVERLAP_HOURS`` (default 24)."""

    async def work(session: Session) -> tuple[dict[str, Any], str]:
        row, secret = await service.rotate_secret(
            session, keys, settings, ctx.merchant.merchant_id, endpoint_id
        )
        return render_endpoint(row), secret

    return await _run_with_secret(ctx, work)


@endpoint_router.delete("/{endpoint_id}")
async def delete_webhook_endpoint(
    endpoint_id: str, merchant: SecretAuth, db: DatabaseDep
) -> Response:
    async with db.transaction() as session:
        await service.delete(session, merchant.merchant_id, endpoint_id)
    return ok(render_deleted(endpoint_id))


@endpoint_router.get("", openapi_extra=query_doc(EndpointList))
async def list_webhook_endpoints(
    merchant: SecretAuth,
    db: DatabaseDep,
    params: Annotated[EndpointList, Depends(query_of(EndpointList))],
) -> Response:
    async with db.transaction() as session:
        page = await service.list_(session, merchant.merchant_id, params)
    data = [render_endpoint(r) for r in page.rows]
    return ok(list_body("/v1/webhook_endpoints", data, page.has_more))


@events_router.get("/{event_id}/deliveries")
async def list_event_deliveries(event_id: str, merchant: SecretAuth, db: DatabaseDep) -> Response:
    """SmartPay extension: the event's webhook deliveries, each with every attempt."""
    async with db.transaction() as session:
        data = await service.event_deliveries(session, merchant.merchant_id, event_id)
    return ok(list_body(f"/v1/events/{event_id}/deliveries", data, False))


@events_router.post("/{event_id}/retry", openapi_extra=body_doc(EventRetry))
async def retry_event(
    event_id: str,
    ctx: Write,
    settings: SettingsDep,
    _params: Annotated[EventRetry, Depends(body_of(EventRetry))],
) -> Response:
    """SmartPay extension: send the event again now to each endpoint that subscribes to
    it (delivered or not), with a fresh retry window. Returns its deliveries."""

    async def work(session: Session) -> dict[str, Any]:
        data = await service.retry_event(
            session, ctx.merchant.merchant_id, event_id, now(), settings
        )
        return list_body(f"/v1/events/{event_id}/deliveries", data, False)

    return await ctx.run(work)


# What create_app includes: both routers (include_router copies routes, so this comes last).
router = APIRouter()
router.include_router(endpoint_router)
router.include_router(events_router)
