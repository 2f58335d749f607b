"""Webhook endpoints (Stripe's ``webhook_endpoint``), their secrets, and the merchant's
view of deliveries. Services take the session and never commit."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from smartpay.config import Settings
from smartpay.errors import ResourceMissing
from smartpay.events import service as events_service
from smartpay.kit.clock import now as clock_now
from smartpay.kit.db import Session
from smartpay.kit.ids import new_id, new_secret
from smartpay.kit.pagination import Page
from smartpay.kit.params import merge_metadata
from smartpay.vault.crypto import SealedRecord, associated_data, open_, seal
from smartpay.vault.keys import KeyProvider
from smartpay.webhooks import repository, urls
from smartpay.webhooks.models import DeliveryStatus, EndpointStatus
from smartpay.webhooks.schemas import (
    EndpointCreate,
    EndpointList,
    EndpointUpdate,
    render_delivery,
)

SECRET_PREFIX = "whsec"
# The event SmartPay writes when it turns off an endpoint that kept failing.
ENDPOINT_DISABLED_EVENT = "webhook_endpoint.disabled"


async def check_url(url: str, settings: Settings, resolver: urls.Resolver | None = None) -> None:
    """Refuse a URL SmartPay may not send to (400 naming ``url``). Run it before the
    unit of work: it may wait for DNS."""
    await urls.check_for_endpoint(url, settings, resolver or urls.system_resolver)


def _secret_aad(secret_id: str, endpoint_id: str) -> bytes:
    return associated_data("webhook_secret", secret_id, endpoint_id)


async def _add_secret(session: Session, keys: KeyProvider, endpoint_id: str, created: int) -> str:
    secret = new_secret(SECRET_PREFIX)
    secret_id = new_id("whsk")
    sealed = seal(keys, secret.encode(), _secret_aad(secret_id, endpoint_id))
    await repository.insert_secret(
        session,
        id=secret_id,
        endpoint_id=endpoint_id,
        ciphertext=sealed.ciphertext,
        nonce=sealed.nonce,
        wrapped_key=sealed.wrapped_key,
        key_version=sealed.key_version,
        created=created,
        expires_at=None,
    )
    return secret


def open_secrets(keys: KeyProvider, rows: Iterable[Any]) -> dict[str, list[str]]:
    """Decrypt secret rows into each endpoint's signing secrets (order kept)."""
    out: dict[str, list[str]] = {}
    for row in rows:
        record = SealedRecord(
            ciphertext=row.ciphertext,
            nonce=row.nonce,
            wrapped_key=row.wrapped_key,
            key_version=row.key_version,
        )
        plaintext = open_(keys, record, _secret_aad(row.id, row.endpoint_id))
        out.setdefault(row.endpoint_id, []).append(plaintext.decode())
    return out


async def create(
    session: Session, keys: KeyProvider, merchant_id: str, params: EndpointCreate
) -> tuple[sa.Row[Any], str]:
    """A new endpoint and its signing secret (the only time the secret is shown)."""
    endpoint_id = new_id("we")
    created = clock_now()
    await repository.insert_endpoint(
        session,
        id=endpoint_id,
        merchant_id=merchant_id,
        url=params.url,
        description=params.description,
        enabled_events=_unique(params.enabled_events),
        metadata=merge_metadata({}, params.metadata),
        api_version=params.api_version,
        status=EndpointStatus.ENABLED,
        failing_since=None,
        created=created,
        deleted=False,
    )
    secret = await _add_secret(session, keys, endpoint_id, created)
    return await get(session, merchant_id, endpoint_id), secret


async def get(session: Session, merchant_id: str, endpoint_id: str) -> sa.Row[Any]:
    row = await repository.get_endpoint(session, merchant_id, endpoint_id)
    if row is None:
        raise ResourceMissing(f"No such webhook endpoint: '{endpoint_id}'", param="id")
    return row


async def update(
    session: Session, merchant_id: str, endpoint_id: str, params: EndpointUpdate
) -> sa.Row[Any]:
    row = await get(session, merchant_id, endpoint_id)
    changes: dict[str, Any] = {}
    if params.url is not None:
        changes["url"] = params.url
    if params.enabled_events is not None:
        changes["enabled_events"] = _unique(params.enabled_events)
    if "description" in params.model_fields_set:
        changes["description"] = params.description
    if params.metadata is not None:
        changes["metadata"] = merge_metadata(row.metadata or {}, params.metadata)
    if params.disabled is not None:
        changes["status"] = EndpointStatus.DISABLED if params.disabled else EndpointStatus.ENABLED
        if not params.disabled:
            changes["failing_since"] = None  # a fresh start: the failure clock restarts
    if changes:
        await repository.update_endpoint(session, endpoint_id, **changes)
    return await get(session, merchant_id, endpoint_id)


async def delete(session: Session, merchant_id: str, endpoint_id: str) -> None:
    await get(session, merchant_id, endpoint_id)
    await repository.update_endpoint(session, endpoint_id, deleted=True)


async def list_(session: Session, merchant_id: str, params: EndpointList) -> Page:
    return await repository.page_endpoints(session, merchant_id, params)


async def rotate_secret(
    session: Session, keys: KeyProvider, settings: Settings, merchant_id: str, endpoint_id: str
) -> tuple[sa.Row[Any], str]:
    """A new signing secret; the current one keeps signing for the overlap period."""
    row = await get(session, merchant_id, endpoint_id)
    current = clock_now()
    overlap = int(settings.webhook_secret_overlap_hours * 3600)
    await repository.expire_current_secrets(session, endpoint_id, current + overlap)
    secret = await _add_secret(session, keys, endpoint_id, current)
    return row, secret


def matches(enabled_events: Sequence[str], event_type: str) -> bool:
    return "*" in enabled_events or event_type in enabled_events


def wants(endpoint: Any, event: Any) -> bool:
    """Whether ``endpoint`` should receive ``event`` (same merchant, subscribed, and not
    the notice that this very endpoint was disabled)."""
    return (
        endpoint.merchant_id == event.merchant_id
        and matches(endpoint.enabled_events, event.type)
        and not (event.type == ENDPOINT_DISABLED_EVENT and event.object_id == endpoint.id)
    )


def delivery_row(event_id: str, endpoint: Any, now: int, give_up_at: int) -> dict[str, Any]:
    return {
        "id": new_id("whd"),
        "event_id": event_id,
        "endpoint_id": endpoint.id,
        "merchant_id": endpoint.merchant_id,
        "status": DeliveryStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "give_up_at": give_up_at,
        "last_error": None,
        "last_status_code": None,
        "delivered_at": None,
        "created": now,
    }


async def event_deliveries(
    session: Session, merchant_id: str, event_id: str
) -> list[dict[str, Any]]:
    """The event's deliveries, each with its attempts (the delivery log)."""
    await events_service.get(session, merchant_id, event_id)
    deliveries = await repository.deliveries_for_event(session, event_id)
    attempts: dict[str, list[Any]] = {}
    if deliveries:
        for attempt in await repository.attempts_for(session, [d.id for d in deliveries]):
            attempts.setdefault(attempt.delivery_id, []).append(attempt)
    return [render_delivery(d, attempts.get(d.id, [])) for d in deliveries]


async def resend(
    session: Session, event_headers: Sequence[Any], now: int, settings: Settings
) -> int:
    """Send these events again, now: every existing delivery is made due with a fresh
    retry window, and every enabled endpoint that subscribes to an event but has no
    delivery of it gets one. Returns the number of deliveries made due."""
    if not event_headers:
        return 0
    give_up_at = now + int(settings.webhook_retry_hours * 3600)
    merchant_ids = sorted({e.merchant_id for e in event_headers})
    endpoints = await repository.enabled_endpoints(session, merchant_ids)
    rows = [
        delivery_row(event.id, endpoint, now, give_up_at)
        for event in event_headers
        for endpoint in endpoints
        if wants(endpoint, event)
    ]
    await repository.insert_deliveries(session, rows)
    event_ids = [e.id for e in event_headers]
    return await repository.reset_for_events(session, event_ids, now, give_up_at)


async def retry_event(
    session: Session, merchant_id: str, event_id: str, now: int, settings: Settings
) -> list[dict[str, Any]]:
    event = await events_service.get(session, merchant_id, event_id)
    await resend(session, [event], now, settings)
    return await event_deliveries(session, merchant_id, event_id)


def _unique(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))
