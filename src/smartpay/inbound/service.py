"""Business rules of inbound webhooks: verify a delivery, store each provider event once,
and say which stored events SmartPay does not act on yet."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final

from smartpay.connectors.base import ProviderEvent, ProviderEventKind, WebhookVerifier
from smartpay.errors import InvalidRequest
from smartpay.inbound import repository
from smartpay.inbound.models import InboundStatus
from smartpay.kit.clock import now
from smartpay.kit.db import Session
from smartpay.kit.ids import new_id

logger = logging.getLogger("smartpay.inbound")

# Kinds that are stored (so nothing a processor said is lost) but not acted on yet, and
# the reason recorded on each.
UNHANDLED: Final[Mapping[ProviderEventKind, str]] = {
    ProviderEventKind.DISPUTE: "disputes are stored but not handled yet",
    ProviderEventKind.ACH_RETURN: "ACH returns are stored but not handled yet",
    ProviderEventKind.OTHER: "this event type is not handled",
}


def verify(connector: WebhookVerifier, body: bytes, headers: dict[str, str]) -> ProviderEvent:
    """The delivery as a ``ProviderEvent`` if its signature verifies. A refusal is logged
    with the processor and the reason only: never the body or the signature."""
    try:
        return connector.verify_webhook(body, headers, now())
    except InvalidRequest as exc:
        logger.warning("inbound webhook for %s refused: %s", connector.name, exc.message)
        raise


async def store(session: Session, connector: str, event: ProviderEvent) -> tuple[str, bool]:
    """Store the event unless it is stored already. Returns its id and whether it was a
    duplicate delivery (which is then not processed again)."""
    values: dict[str, Any] = {
        "id": new_id("iwh"),
        "connector": connector,
        "provider_event_id": event.event_id,
        "type": event.type,
        "kind": event.kind.value,
        "processor_reference": event.processor_reference,
        "payload": event.payload,
        "status": InboundStatus.RECEIVED.value,
        "reason": None,
        "attempts": 0,
        "received_at": now(),
        "processed_at": None,
    }
    if await repository.insert_once(session, values):
        return values["id"], False
    existing = await repository.get(session, connector, event.event_id)
    assert existing is not None, "a conflicting row must be readable"
    logger.info("inbound webhook %s from %s is a duplicate", event.event_id, connector)
    return existing.id, True


async def received(session: Session, limit: int) -> list[Any]:
    return await repository.received(session, limit)


async def finish(
    session: Session, event_id: str, status: InboundStatus, reason: str | None
) -> bool:
    return await repository.finish(session, event_id, status, reason, now())


async def count_attempt(session: Session, event_id: str, reason: str) -> None:
    await repository.count_attempt(session, event_id, reason[:255])
