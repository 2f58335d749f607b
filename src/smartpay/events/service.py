"""Writing events to the outbox. Callers collect the events of one unit of work in an
``EventBatch`` and flush it once, so a payment adds one INSERT however many events it
raises."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from smartpay.errors import ResourceMissing
from smartpay.events import repository
from smartpay.events.schemas import EventList
from smartpay.kit.clock import now
from smartpay.kit.db import Session
from smartpay.kit.ids import new_id
from smartpay.kit.pagination import Page
from smartpay.kit.request_context import current_request_id


@dataclass(slots=True)
class EventBatch:
    merchant_id: str
    idempotency_key: str | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(
        self,
        event_type: str,
        obj: dict[str, Any],
        previous_attributes: dict[str, Any] | None = None,
    ) -> None:
        self.rows.append(
            {
                "id": new_id("evt"),
                "merchant_id": self.merchant_id,
                "type": event_type,
                "object_id": obj["id"],
                "data": obj,
                "previous_attributes": previous_attributes,
                "request_id": current_request_id.get(),
                "idempotency_key": self.idempotency_key,
                "created": now(),
            }
        )

    async def flush(self, session: Session) -> None:
        await repository.insert_many(session, self.rows)
        self.rows = []


async def get(session: Session, merchant_id: str, event_id: str) -> Any:
    row = await repository.get(session, merchant_id, event_id)
    if row is None:
        raise ResourceMissing(f"No such event: '{event_id}'", param="id")
    return row


async def list_(session: Session, merchant_id: str, params: EventList) -> Page:
    return await repository.page(session, merchant_id, params)


async def after(
    session: Session,
    merchant_id: str,
    cursor: str,
    horizon: str,
    types: list[str],
    limit: int,
) -> list[Any]:
    """The merchant's events after ``cursor`` up to ``horizon`` (both event ids), oldest
    first; ``types`` keeps only those types (``family.*`` for a prefix)."""
    return await repository.after(session, merchant_id, cursor, horizon, types, limit)
