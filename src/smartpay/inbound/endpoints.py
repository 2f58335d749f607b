from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from smartpay.connectors.base import WebhookVerifier
from smartpay.connectors.registry import ConnectorRegistry
from smartpay.dependencies import DatabaseDep, SettingsDep, ok
from smartpay.errors import ResourceMissing
from smartpay.inbound import flows
from smartpay.inbound.schemas import render_receipt
from smartpay.kit.api import read_body_bytes

# Called by processors, authenticated by their signature, not by an API key; not part of
# the Stripe-compatible API description.
router = APIRouter(prefix="/webhooks", tags=["inbound"], include_in_schema=False)


@router.post("/{connector}")
async def receive_webhook(
    connector: str, request: Request, db: DatabaseDep, settings: SettingsDep
) -> Response:
    connectors: ConnectorRegistry = request.app.state.connectors
    target = connectors.get(connector) if connector in connectors else None
    if not isinstance(target, WebhookVerifier):
        raise ResourceMissing(f"No enabled processor named {connector[:64]!r} sends webhooks.")
    body = await read_body_bytes(request, settings.inbound_webhook_max_bytes)
    inbound_id, duplicate = await flows.receive(db, target, body, dict(request.headers))
    return ok(render_receipt(inbound_id, duplicate))
