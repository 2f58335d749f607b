from __future__ import annotations

from typing import Any

from pydantic import Field

from smartpay.kit.pagination import CreatedFilter, ListParams, UnixTime
from smartpay.kit.params import StripeParams

API_VERSION = "2024-06-20"


class EventList(ListParams, StripeParams):
    type: str | None = Field(default=None, max_length=80)
    types: list[str] | None = Field(default=None, max_length=20)
    created: CreatedFilter | UnixTime | None = None


def render_event(row: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"object": row.data}
    if row.previous_attributes:
        data["previous_attributes"] = row.previous_attributes
    return {
        "id": row.id,
        "object": "event",
        "api_version": API_VERSION,
        "created": row.created,
        "data": data,
        "livemode": False,
        "pending_webhooks": 0,
        "request": {"id": row.request_id, "idempotency_key": row.idempotency_key},
        "type": row.type,
    }
