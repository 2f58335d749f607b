"""Every SQL statement of the routing domain."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from smartpay.kit.db import Session, insert_if_absent
from smartpay.routing.bandit import ArmIncrement, ArmStats, stats_keys
from smartpay.routing.breaker import BreakerRecord, BreakerState
from smartpay.routing.models import routing_breakers, routing_configs, routing_stats

# 2^-60 is below any count that matters; PostgreSQL raises on float underflow, so the
# decay exponent is capped there.
_MAX_HALF_LIVES = 60.0


async def get_config(session: Session, merchant_id: str) -> sa.Row[Any] | None:
    query = sa.select(routing_configs).where(routing_configs.c.merchant_id == merchant_id)
    return (await session.execute(query)).first()


async def save_config(
    session: Session, merchant_id: str, document: dict[str, Any], updated: int
) -> None:
    changed = await session.execute(
        sa.update(routing_configs)
        .where(routing_configs.c.merchant_id == merchant_id)
        .values(document=document, updated=updated)
    )
    if changed.rowcount == 0:
        await session.execute(
            insert_if_absent(
                routing_configs,
                {"merchant_id": merchant_id, "document": document, "updated": updated},
            )
        )
        await session.execute(
            sa.update(routing_configs)
            .where(routing_configs.c.merchant_id == merchant_id)
            .values(document=document, updated=updated)
        )


async def load_stats(
    session: Session, processors: Sequence[str], segment: str
) -> dict[tuple[str, str], ArmStats]:
    query = sa.select(routing_stats).where(
        routing_stats.c.processor.in_(list(processors)),
        routing_stats.c.segment.in_(stats_keys(segment)),
    )
    return {
        (row.processor, row.segment): ArmStats(
            row.successes, row.failures, row.updated_at, row.latency_ms, row.latency_samples
        )
        for row in await session.execute(query)
    }


async def add_increments(
    session: Session,
    processor: str,
    increments: Mapping[str, ArmIncrement],
    half_life: float,
) -> None:
    """``ArmIncrement.apply_to`` in one UPDATE per statistics row, so concurrent
    processes never lose each other's counts. ``increments``: by segment key."""
    for name, increment in increments.items():
        await session.execute(
            insert_if_absent(
                routing_stats,
                {
                    "processor": processor,
                    "segment": name,
                    "successes": 0.0,
                    "failures": 0.0,
                    "updated_at": increment.first_seen,
                    "latency_ms": 0.0,
                    "latency_samples": 0,
                },
            )
        )
    c = routing_stats.c
    for name, increment in increments.items():
        values: dict[str, Any] = {}
        if increment.updated_at:
            at = sa.literal(increment.updated_at, sa.Float)
            elapsed = (at - c.updated_at) / sa.literal(half_life, sa.Float)
            capped = sa.case((elapsed > _MAX_HALF_LIVES, _MAX_HALF_LIVES), else_=elapsed)
            factor = sa.case(
                (c.updated_at < at, sa.func.power(sa.literal(0.5, sa.Float), capped)),
                else_=sa.literal(1.0, sa.Float),
            )
            values["successes"] = c.successes * factor + increment.successes
            values["failures"] = c.failures * factor + increment.failures
            values["updated_at"] = sa.case((c.updated_at < at, at), else_=c.updated_at)
        if increment.first_latency is not None:
            keep = sa.literal(increment.latency_keep, sa.Float)
            start = sa.case(
                (c.latency_samples == 0, sa.literal(increment.first_latency, sa.Float)),
                else_=c.latency_ms,
            )
            values["latency_ms"] = start * keep + increment.latency_sum
            values["latency_samples"] = c.latency_samples + increment.latency_samples
        if values:
            await session.execute(
                sa.update(routing_stats)
                .where(c.processor == processor, c.segment == name)
                .values(**values)
            )


def _breaker(row: Any) -> BreakerRecord:
    return BreakerRecord(
        processor=row.processor,
        state=BreakerState(row.state),
        changed_at=row.changed_at,
        window_start=row.window_start,
        calls=row.calls,
        failures=row.failures,
        previous_calls=row.previous_calls,
        previous_failures=row.previous_failures,
        probe_successes=row.probe_successes,
    )


async def load_breakers(session: Session, processors: Sequence[str]) -> dict[str, BreakerRecord]:
    query = sa.select(routing_breakers).where(routing_breakers.c.processor.in_(list(processors)))
    return {row.processor: _breaker(row) for row in await session.execute(query)}


async def lock_breaker(session: Session, processor: str) -> BreakerRecord:
    """The processor's breaker, locked until the transaction ends (created if new)."""
    fresh = BreakerRecord(processor)
    await session.execute(insert_if_absent(routing_breakers, _breaker_values(fresh)))
    query = (
        sa.select(routing_breakers)
        .where(routing_breakers.c.processor == processor)
        .with_for_update()
    )
    row = (await session.execute(query)).one()
    return _breaker(row)


def _breaker_values(record: BreakerRecord) -> dict[str, Any]:
    return {
        "processor": record.processor,
        "state": record.state.value,
        "changed_at": record.changed_at,
        "window_start": record.window_start,
        "calls": record.calls,
        "failures": record.failures,
        "previous_calls": record.previous_calls,
        "previous_failures": record.previous_failures,
        "probe_successes": record.probe_successes,
    }


async def save_breaker(session: Session, record: BreakerRecord) -> None:
    values = _breaker_values(record)
    del values["processor"]
    await session.execute(
        sa.update(routing_breakers)
        .where(routing_breakers.c.processor == record.processor)
        .values(**values)
    )
