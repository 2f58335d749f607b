"""Every SQL statement of the routing domain."""

from __future__ import annotations

import functools
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


_STATS_ROW = insert_if_absent(routing_stats)


async def add_increments(
    session: Session,
    processor: str,
    increments: Mapping[str, ArmIncrement],
    half_life: float,
) -> None:
    """``ArmIncrement.apply_to`` in one UPDATE per statistics row, so concurrent
    processes never lose each other's counts. ``increments``: by segment key.

    The statements are built once (``_increment_update``) and run with one parameter
    set per row: building the decay arithmetic as expressions per row and per flush was
    most of a flush's time."""
    if not increments:
        return
    await session.execute(
        _STATS_ROW,
        [
            {
                "processor": processor,
                "segment": name,
                "successes": 0.0,
                "failures": 0.0,
                "updated_at": increment.first_seen,
                "latency_ms": 0.0,
                "latency_samples": 0,
            }
            for name, increment in increments.items()
        ],
    )
    by_statement: dict[sa.Update, list[dict[str, Any]]] = {}
    for name, increment in increments.items():
        decays = bool(increment.updated_at)
        times_latency = increment.first_latency is not None
        if not (decays or times_latency):
            continue
        parameters: dict[str, Any] = {"b_processor": processor, "b_segment": name}
        if decays:
            parameters.update(
                b_at=increment.updated_at,
                b_half_life=half_life,
                b_successes=increment.successes,
                b_failures=increment.failures,
            )
        if times_latency:
            parameters.update(
                b_keep=increment.latency_keep,
                b_first_latency=increment.first_latency,
                b_latency_sum=increment.latency_sum,
                b_latency_samples=increment.latency_samples,
            )
        by_statement.setdefault(_increment_update(decays, times_latency), []).append(parameters)
    for statement, rows in by_statement.items():
        await session.execute(statement, rows)


@functools.cache
def _increment_update(decays: bool, times_latency: bool) -> sa.Update:
    """The UPDATE that folds an ``ArmIncrement`` into its row: the counts decayed to the
    increment's time and added to, and/or the latency average moved; bind parameters
    ``b_*`` (see ``add_increments``)."""
    c = routing_stats.c
    values: dict[str, Any] = {}
    if decays:
        at = sa.bindparam("b_at", type_=sa.Float)
        elapsed = (at - c.updated_at) / sa.bindparam("b_half_life", type_=sa.Float)
        capped = sa.case((elapsed > _MAX_HALF_LIVES, _MAX_HALF_LIVES), else_=elapsed)
        factor = sa.case(
            (c.updated_at < at, sa.func.power(sa.literal(0.5, sa.Float), capped)),
            else_=sa.literal(1.0, sa.Float),
        )
        values["successes"] = c.successes * factor + sa.bindparam("b_successes", type_=sa.Float)
        values["failures"] = c.failures * factor + sa.bindparam("b_failures", type_=sa.Float)
        values["updated_at"] = sa.case((c.updated_at < at, at), else_=c.updated_at)
    if times_latency:
        start = sa.case(
            (c.latency_samples == 0, sa.bindparam("b_first_latency", type_=sa.Float)),
            else_=c.latency_ms,
        )
        values["latency_ms"] = start * sa.bindparam("b_keep", type_=sa.Float) + sa.bindparam(
            "b_latency_sum", type_=sa.Float
        )
        values["latency_samples"] = c.latency_samples + sa.bindparam(
            "b_latency_samples", type_=sa.Integer
        )
    return (
        sa.update(routing_stats)
        .where(c.processor == sa.bindparam("b_processor"), c.segment == sa.bindparam("b_segment"))
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
