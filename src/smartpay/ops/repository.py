"""The SQL behind the metrics that describe the whole system rather than one process:
read from the database at scrape time, so every API and worker process reports the same
figures."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from smartpay.events.models import events
from smartpay.inbound.models import InboundStatus, inbound_events
from smartpay.kit.db import Session, insert_if_absent
from smartpay.ops.models import worker_heartbeats
from smartpay.payments.models import (
    AttemptStatus,
    ChargeStatus,
    charges,
    payment_attempts,
    payment_intents,
)
from smartpay.routing.models import routing_breakers
from smartpay.webhooks.models import DeliveryStatus, webhook_deliveries


async def ping(session: Session) -> None:
    await session.execute(sa.text("SELECT 1"))


async def intents_by_status(session: Session) -> list[sa.Row[Any]]:
    query = sa.select(payment_intents.c.status, sa.func.count()).group_by(payment_intents.c.status)
    return list((await session.execute(query)).all())


async def charges_by_processor_and_status(
    session: Session, created_since: int
) -> list[sa.Row[Any]]:
    """(processor, status, count) of the charges created since ``created_since``."""
    query = (
        sa.select(charges.c.processor, charges.c.status, sa.func.count())
        .where(charges.c.created >= created_since)
        .group_by(charges.c.processor, charges.c.status)
    )
    return list((await session.execute(query)).all())


async def charge_outcomes_by_merchant(
    session: Session, created_since: int
) -> list[tuple[str, int, int]]:
    """(merchant_id, failed, decided) over the charges created since ``created_since``;
    pending charges are not decided yet and count in neither."""
    failed = sa.func.count().filter(charges.c.status == ChargeStatus.FAILED.value)
    query = (
        sa.select(charges.c.merchant_id, failed, sa.func.count())
        .where(
            charges.c.created >= created_since,
            charges.c.status != ChargeStatus.PENDING.value,
        )
        .group_by(charges.c.merchant_id)
    )
    return [(m, int(f), int(d)) for m, f, d in (await session.execute(query)).all()]


async def risk_decisions(session: Session, since: int) -> list[sa.Row[Any]]:
    """(decision, count) of the payment intents the risk engine assessed since ``since``."""
    decision = payment_intents.c.risk["decision"].as_string()
    # A subquery, so both databases group by the extracted value, and a JSON null (an
    # intent never assessed) is left out by the NOT NULL on the extracted value.
    assessed = (
        sa.select(decision.label("decision"))
        .where(payment_intents.c.created >= since, decision.is_not(None))
        .subquery("assessed")
    )
    query = sa.select(assessed.c.decision, sa.func.count()).group_by(assessed.c.decision)
    return list(await session.execute(query))


async def breaker_states(session: Session) -> list[sa.Row[Any]]:
    """(processor, state) of every circuit breaker that has seen a call."""
    query = sa.select(routing_breakers.c.processor, routing_breakers.c.state)
    return list(await session.execute(query))


async def attempts_by_processor(session: Session, since: float) -> list[sa.Row[Any]]:
    """(processor, count) of authorization attempts started since ``since``: where
    routing sent payments, cascades included."""
    query = (
        sa.select(payment_attempts.c.processor, sa.func.count())
        .where(
            payment_attempts.c.operation == "authorize",
            payment_attempts.c.started_at >= since,
        )
        .group_by(payment_attempts.c.processor)
    )
    return list(await session.execute(query))


async def open_attempts(session: Session) -> int:
    query = sa.select(sa.func.count()).where(
        payment_attempts.c.status.in_([AttemptStatus.PENDING.value, AttemptStatus.UNKNOWN.value])
    )
    return int((await session.execute(query)).scalar_one())


async def events_not_fanned_out(session: Session) -> int:
    query = sa.select(sa.func.count()).where(events.c.webhooks_fanned_out.is_(sa.false()))
    return int((await session.execute(query)).scalar_one())


async def webhook_backlog(session: Session, now: int) -> tuple[int, int | None]:
    """(deliveries waiting for an attempt, due time of the most overdue one or None)."""
    due = webhook_deliveries.c.next_attempt_at <= now
    query = sa.select(
        sa.func.count(),
        sa.func.min(sa.case((due, webhook_deliveries.c.next_attempt_at))),
    ).where(webhook_deliveries.c.status == DeliveryStatus.PENDING.value)
    count, oldest_due = (await session.execute(query)).one()
    return int(count), None if oldest_due is None else int(oldest_due)


async def inbound_pending(session: Session) -> int:
    query = sa.select(sa.func.count()).where(
        inbound_events.c.status == InboundStatus.RECEIVED.value
    )
    return int((await session.execute(query)).scalar_one())


async def record_heartbeat(session: Session, worker_id: str, now: int, started_at: int) -> None:
    """Insert or refresh this worker's row."""
    inserted = await session.execute(
        insert_if_absent(
            worker_heartbeats,
            {"worker_id": worker_id, "started_at": started_at, "beat_at": now},
        )
    )
    if not inserted.rowcount:
        await session.execute(
            sa.update(worker_heartbeats)
            .where(worker_heartbeats.c.worker_id == worker_id)
            .values(beat_at=now)
        )


async def forget_heartbeats(session: Session, before: int) -> None:
    await session.execute(sa.delete(worker_heartbeats).where(worker_heartbeats.c.beat_at < before))


async def latest_heartbeat(session: Session) -> int | None:
    value = (await session.execute(sa.select(sa.func.max(worker_heartbeats.c.beat_at)))).scalar()
    return None if value is None else int(value)
