from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, StringConstraints

from smartpay.kit.pagination import ListParams
from smartpay.kit.params import MetadataMixin, StripeParams

# An event type as SmartPay names them (``payment_intent.succeeded``), or ``*`` for all.
EventType = Annotated[str, StringConstraints(max_length=80, pattern=r"^(\*|[a-z_]+(\.[a-z_]+)+)$")]
# Stripe accepts up to a few hundred event types on one endpoint.
MAX_ENABLED_EVENTS = 500
ApiVersion = Annotated[str, StringConstraints(max_length=32, pattern=r"^\d{4}-\d{2}-\d{2}")]


class EndpointCreate(StripeParams, MetadataMixin):
    url: Annotated[str, StringConstraints(min_length=1, max_length=5000)]
    enabled_events: list[EventType] = Field(min_length=1, max_length=MAX_ENABLED_EVENTS)
    description: str | None = Field(default=None, max_length=5000)
    api_version: ApiVersion | None = None
    connect: bool | None = None


class EndpointUpdate(StripeParams, MetadataMixin):
    url: Annotated[str, StringConstraints(min_length=1, max_length=5000)] | None = None
    enabled_events: list[EventType] | None = Field(
        default=None, min_length=1, max_length=MAX_ENABLED_EVENTS
    )
    description: str | None = Field(default=None, max_length=5000)
    disabled: bool | None = None


class EndpointList(ListParams, StripeParams):
    pass


class EventRetry(StripeParams):
    pass


def render_endpoint(row: Any, secret: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": row.id,
        "object": "webhook_endpoint",
        "api_version": row.api_version,
        "application": None,
        "created": row.created,
        "description": row.description,
        "enabled_events": list(row.enabled_events),
        "livemode": False,
        "metadata": row.metadata or {},
        "status": row.status,
        "url": row.url,
    }
    if secret is not None:
        body["secret"] = secret
    return body


def render_deleted(endpoint_id: str) -> dict[str, Any]:
    return {"id": endpoint_id, "object": "webhook_endpoint", "deleted": True}


def render_attempt(row: Any) -> dict[str, Any]:
    return {
        "object": "webhook_delivery_attempt",
        "attempted_at": row.attempted_at,
        "status_code": row.status_code,
        "latency_ms": row.latency_ms,
        "response_body": row.response_body,
        "error": row.error,
    }


def render_delivery(row: Any, attempts: list[Any]) -> dict[str, Any]:
    return {
        "id": row.id,
        "object": "webhook_delivery",
        "event": row.event_id,
        "webhook_endpoint": row.endpoint_id,
        "status": row.status,
        "attempt_count": row.attempts,
        "next_attempt_at": row.next_attempt_at if row.status == "pending" else None,
        "last_error": row.last_error,
        "last_status_code": row.last_status_code,
        "delivered_at": row.delivered_at,
        "created": row.created,
        "attempts": [render_attempt(a) for a in attempts],
    }
