"""Every SQL statement of the reports: aggregations over one merchant's payments in a
period, computed by the database (GROUP BY, window functions) on SQLite and PostgreSQL.

Money is summed per currency only: every query that sums an amount groups by currency.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from smartpay.kit.db import Session
from smartpay.payments.models import (
    AttemptStatus,
    ChargeStatus,
    charges,
    payment_attempts,
    payment_intents,
    refunds,
)

# Nearest-rank percentiles reported for processor latency.
LATENCY_PERCENTILES = (50, 90, 95, 99)
# Shown instead of a missing card brand (a charge on something other than a card).
NO_BRAND = "none"


@dataclass(frozen=True, slots=True)
class Period:
    """The half-open interval [start, end) in unix seconds; None is unbounded."""

    start: int | None = None
    end: int | None = None

    def clauses(self, column: sa.ColumnElement[Any]) -> list[sa.ColumnElement[bool]]:
        out: list[sa.ColumnElement[bool]] = []
        if self.start is not None:
            out.append(column >= self.start)
        if self.end is not None:
            out.append(column < self.end)
        return out


def _count_where(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
    # SUM(CASE …) rather than COUNT(*) FILTER: the same SQL on both databases.
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def _sum(column: sa.ColumnElement[Any]) -> sa.ColumnElement[int]:
    return sa.func.coalesce(sa.func.sum(column), 0)


async def intents_by_status(
    session: Session, merchant_id: str, period: Period
) -> Sequence[sa.Row[Any]]:
    """(status, currency, count, amount) of the payment intents created in the period."""
    query = (
        sa.select(
            payment_intents.c.status,
            payment_intents.c.currency,
            sa.func.count().label("n"),
            _sum(payment_intents.c.amount).label("amount"),
        )
        .where(
            payment_intents.c.merchant_id == merchant_id,
            *period.clauses(payment_intents.c.created),
        )
        .group_by(payment_intents.c.status, payment_intents.c.currency)
        .order_by(payment_intents.c.currency, payment_intents.c.status)
    )
    return (await session.execute(query)).all()


def _charge_facts(merchant_id: str, period: Period) -> sa.Subquery:
    """The period's charges with the dimensions reports group by, as plain columns: a
    JSON field extracted once here, so the outer GROUP BY names a column (PostgreSQL
    refuses to match a JSON path given as two separate bound parameters)."""
    return (
        sa.select(
            charges.c.currency,
            charges.c.processor,
            sa.func.coalesce(charges.c.card["brand"].as_string(), NO_BRAND).label("brand"),
            charges.c.status,
            charges.c.amount,
            charges.c.amount_captured,
            charges.c.amount_refunded,
            charges.c.fee,
            charges.c.failure_code,
            charges.c.outcome["reason"].as_string().label("decline_code"),
        )
        .where(charges.c.merchant_id == merchant_id, *period.clauses(charges.c.created))
        .subquery("charge_facts")
    )


# The dimensions a charge breakdown can group by (besides currency, always).
CHARGE_DIMENSIONS = ("currency", "processor", "brand")


async def charges_by(
    session: Session, merchant_id: str, period: Period, dimension: str
) -> Sequence[sa.Row[Any]]:
    """Per ``dimension`` value and currency: charges, their outcomes and amounts."""
    if dimension not in CHARGE_DIMENSIONS:
        raise ValueError(f"unknown charge dimension {dimension!r}")
    facts = _charge_facts(merchant_id, period)
    keys = [facts.c.currency] if dimension == "currency" else [facts.c[dimension], facts.c.currency]
    query = (
        sa.select(
            *(key.label("key") for key in keys[:1]),
            facts.c.currency.label("currency"),
            sa.func.count().label("n"),
            _count_where(facts.c.status == ChargeStatus.SUCCEEDED.value).label("succeeded"),
            _count_where(facts.c.status == ChargeStatus.FAILED.value).label("failed"),
            _count_where(facts.c.status == ChargeStatus.PENDING.value).label("pending"),
            _sum(facts.c.amount).label("amount"),
            _sum(
                sa.case((facts.c.status == ChargeStatus.SUCCEEDED.value, facts.c.amount), else_=0)
            ).label("amount_succeeded"),
            _sum(facts.c.amount_captured).label("amount_captured"),
            _sum(facts.c.amount_refunded).label("amount_refunded"),
            _sum(facts.c.fee).label("fees"),
        )
        .group_by(*keys)
        .order_by(*keys)
    )
    return (await session.execute(query)).all()


async def decline_reasons(
    session: Session, merchant_id: str, period: Period
) -> Sequence[sa.Row[Any]]:
    """(failure code, decline code, count) of the period's failed charges, most first."""
    facts = _charge_facts(merchant_id, period)
    count = sa.func.count().label("n")
    query = (
        sa.select(facts.c.failure_code, facts.c.decline_code, count)
        .where(facts.c.status == ChargeStatus.FAILED.value)
        .group_by(facts.c.failure_code, facts.c.decline_code)
        .order_by(count.desc(), facts.c.failure_code, facts.c.decline_code)
    )
    return (await session.execute(query)).all()


async def refunds_by_status(
    session: Session, merchant_id: str, period: Period
) -> Sequence[sa.Row[Any]]:
    """(currency, status, count, amount) of the refunds created in the period."""
    query = (
        sa.select(
            refunds.c.currency,
            refunds.c.status,
            sa.func.count().label("n"),
            _sum(refunds.c.amount).label("amount"),
        )
        .where(refunds.c.merchant_id == merchant_id, *period.clauses(refunds.c.created))
        .group_by(refunds.c.currency, refunds.c.status)
        .order_by(refunds.c.currency, refunds.c.status)
    )
    return (await session.execute(query)).all()


async def refund_reasons(
    session: Session, merchant_id: str, period: Period
) -> Sequence[sa.Row[Any]]:
    """(reason, count) of the period's refunds, most first (reason None: not given)."""
    count = sa.func.count().label("n")
    query = (
        sa.select(refunds.c.reason, count)
        .where(refunds.c.merchant_id == merchant_id, *period.clauses(refunds.c.created))
        .group_by(refunds.c.reason)
        .order_by(count.desc(), refunds.c.reason)
    )
    return (await session.execute(query)).all()


def _authorizations(merchant_id: str, period: Period) -> list[sa.ColumnElement[bool]]:
    # Attempts have no ``created``: the period applies to when the call started.
    return [
        payment_attempts.c.merchant_id == merchant_id,
        payment_attempts.c.operation == "authorize",
        *period.clauses(payment_attempts.c.started_at),
    ]


async def attempts_by_processor(
    session: Session, merchant_id: str, period: Period
) -> Sequence[sa.Row[Any]]:
    """Per processor: authorization attempts by outcome, and the payments it was tried on."""
    status = payment_attempts.c.status
    query = (
        sa.select(
            payment_attempts.c.processor,
            sa.func.count().label("attempts"),
            sa.func.count(sa.distinct(payment_attempts.c.payment_intent_id)).label("payments"),
            _count_where(status == AttemptStatus.SUCCEEDED.value).label("succeeded"),
            _count_where(status == AttemptStatus.DECLINED.value).label("declined"),
            _count_where(status == AttemptStatus.FAILED.value).label("failed"),
            _count_where(status == AttemptStatus.UNKNOWN.value).label("unknown"),
            _count_where(
                status.in_([AttemptStatus.PENDING.value, AttemptStatus.REQUIRES_ACTION.value])
            ).label("open"),
        )
        .where(*_authorizations(merchant_id, period))
        .group_by(payment_attempts.c.processor)
        .order_by(payment_attempts.c.processor)
    )
    return (await session.execute(query)).all()


async def cascaded_charges(session: Session, merchant_id: str, period: Period) -> int:
    """How many charges needed more than one authorization attempt (a cascade)."""
    per_charge = (
        sa.select(payment_attempts.c.charge_id)
        .where(*_authorizations(merchant_id, period), payment_attempts.c.charge_id.is_not(None))
        .group_by(payment_attempts.c.charge_id)
        .having(sa.func.count() > 1)
        .subquery()
    )
    query = sa.select(sa.func.count()).select_from(per_charge)
    return int((await session.execute(query)).scalar_one())


async def latency_percentiles(
    session: Session, merchant_id: str, period: Period, *, per_processor: bool
) -> Sequence[sa.Row[Any]]:
    """Nearest-rank percentiles of finished authorization calls, in milliseconds: rows of
    (processor or None, total, rank, latency_ms) holding only the ranks that are a
    percentile in LATENCY_PERCENTILES or the maximum. Ranked by a window function, so
    the database returns a handful of rows however many attempts there are."""
    latency = (payment_attempts.c.finished_at - payment_attempts.c.started_at) * 1000.0
    partition = [payment_attempts.c.processor] if per_processor else []
    processor = payment_attempts.c.processor if per_processor else sa.null()
    ranked = (
        sa.select(
            processor.label("processor"),
            latency.label("latency_ms"),
            sa.func.row_number()
            .over(partition_by=partition or None, order_by=latency)
            .label("rank"),
            sa.func.count().over(partition_by=partition or None).label("total"),
        )
        .where(
            *_authorizations(merchant_id, period),
            payment_attempts.c.finished_at.is_not(None),
        )
        .subquery("ranked")
    )
    # Nearest rank: ceil(p * n / 100), in integer arithmetic on both databases.
    wanted = [ranked.c.rank == (ranked.c.total * p + 99) // 100 for p in LATENCY_PERCENTILES]
    query = (
        sa.select(ranked.c.processor, ranked.c.total, ranked.c.rank, ranked.c.latency_ms)
        .where(sa.or_(*wanted, ranked.c.rank == ranked.c.total))
        .order_by(ranked.c.processor, ranked.c.rank)
    )
    return (await session.execute(query)).all()
