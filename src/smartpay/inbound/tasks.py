"""The worker job for inbound webhooks: act on each stored provider event once.

A payment event is never trusted for its outcome: the worker finds the attempt by the
processor's reference, asks the processor what it recorded (``Connector.lookup``) and
applies that through the same ``PaymentFlows.apply_*`` functions as the confirming
request and the janitor. Those apply an outcome only while the attempt is still open,
so a webhook racing the 3-D Secure page, the janitor or another worker applies nothing
twice. Disputes and ACH returns are stored and marked ``ignored`` for now.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Final

from smartpay.connectors.base import ProviderEventKind, RecordStatus
from smartpay.errors import OutcomeUnknown, ProcessorUnavailable
from smartpay.inbound import service
from smartpay.inbound.models import InboundStatus
from smartpay.payments import repository as payments
from smartpay.payments.models import OPEN_ATTEMPT, AttemptStatus
from smartpay.platform import Platform

logger = logging.getLogger("smartpay.inbound")

# Events one worker round takes on; the rest wait for the next round.
BATCH_SIZE: Final = 100
# A processor may send a webhook before SmartPay has recorded the reference it names
# (the confirming request is still applying the answer), or be unreachable when asked.
# At the worker's default 5 s interval, 60 tries is five minutes before giving up.
MAX_PROCESSING_ATTEMPTS: Final = 60
_APPLICABLE: Final = OPEN_ATTEMPT | {AttemptStatus.REQUIRES_ACTION.value}


class _NotYet(Exception):
    """Try this event again next round (the reason is recorded)."""


async def process_pending(platform: Platform, limit: int = BATCH_SIZE) -> int:
    """Act on up to ``limit`` stored events; returns how many reached a final status."""
    async with platform.database.transaction() as session:
        rows = await service.received(session, limit)
    finished = 0
    for row in rows:
        if await _process(platform, row):
            finished += 1
    return finished


async def _process(platform: Platform, row: Any) -> bool:
    kind = ProviderEventKind(row.kind)
    if kind is not ProviderEventKind.PAYMENT_UPDATED:
        return await _finish(platform, row, InboundStatus.IGNORED, service.UNHANDLED[kind])
    try:
        return await _apply_payment_update(platform, row)
    except (_NotYet, ProcessorUnavailable, OutcomeUnknown, TimeoutError) as exc:
        reason = str(exc) or type(exc).__name__
    except Exception as exc:
        logger.exception("inbound event %s from %s failed", row.id, row.connector)
        reason = f"internal error: {type(exc).__name__}"
    if row.attempts + 1 >= MAX_PROCESSING_ATTEMPTS:
        return await _finish(platform, row, InboundStatus.FAILED, reason)
    async with platform.database.transaction() as session:
        await service.count_attempt(session, row.id, reason)
    return False


async def _finish(platform: Platform, row: Any, status: InboundStatus, reason: str | None) -> bool:
    async with platform.database.transaction() as session:
        return await service.finish(session, row.id, status, reason)


async def _apply_payment_update(platform: Platform, row: Any) -> bool:
    if row.processor_reference is None:
        return await _finish(platform, row, InboundStatus.IGNORED, "no processor reference")
    if row.connector not in platform.connectors:
        return await _finish(platform, row, InboundStatus.IGNORED, "processor no longer enabled")
    async with platform.database.transaction() as session:
        attempt = await payments.find_attempt_by_processor_reference(
            session, row.connector, row.processor_reference
        )
    if attempt is None:
        raise _NotYet("no payment attempt has this processor reference yet")
    if attempt.status not in _APPLICABLE:
        return await _finish(platform, row, InboundStatus.PROCESSED, "already applied")
    connector = platform.connectors.get(row.connector)
    record = await asyncio.wait_for(
        connector.lookup(attempt.idempotency_key),
        timeout=platform.settings.processor_timeout_seconds,
    )
    if record is None:
        raise _NotYet("the processor has no record of this attempt")
    if record.status is RecordStatus.PENDING_ACTION:
        return await _finish(platform, row, InboundStatus.PROCESSED, "still awaiting the customer")
    flows = platform.payment_flows
    async with platform.database.transaction() as session:
        if attempt.operation == "authorize":
            await flows.apply_authorization(session, attempt, record)
        elif attempt.operation == "capture":
            await flows.apply_capture(session, attempt, record)
        elif attempt.operation == "refund":
            await flows.apply_refund(session, attempt, record)
        else:
            return await service.finish(
                session, row.id, InboundStatus.IGNORED, f"operation {attempt.operation}"
            )
        return await service.finish(session, row.id, InboundStatus.PROCESSED, None)
