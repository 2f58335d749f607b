"""Receiving one processor webhook: verify, then store in one unit of work. Shared by
``POST /webhooks/{connector}`` and the sandbox processor's in-process delivery, so both
go through the same signature check."""

from __future__ import annotations

from smartpay.connectors.base import WebhookVerifier
from smartpay.inbound import service
from smartpay.kit.db import Database


async def receive(
    database: Database, connector: WebhookVerifier, body: bytes, headers: dict[str, str]
) -> tuple[str, bool]:
    """Verify and store a delivery; returns the stored event's id and whether it was a
    duplicate. ``headers`` are keyed in lower case."""
    event = service.verify(connector, body, headers)
    async with database.transaction() as session:
        return await service.store(session, connector.name, event)
