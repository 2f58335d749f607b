"""Every SQL statement of the payments domain."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from typing import Any

import sqlalchemy as sa

from smartpay.kit.db import ROW_ID, Session, select_owned_by_id, update_by_id
from smartpay.kit.pagination import CreatedFilter, ListParams, Page, created_clauses, fetch_page
from smartpay.payments.models import (
    AttemptStatus,
    RefundStatus,
    charges,
    payment_attempts,
    payment_intents,
    refunds,
)


async def insert_intent(session: Session, **values: Any) -> None:
    await session.execute(sa.insert(payment_intents), values)


async def get_intent(
    session: Session, merchant_id: str, intent_id: str, *, for_update: bool = False
) -> sa.Row[Any] | None:
    query = select_owned_by_id(payment_intents, for_update=for_update)
    parameters = {ROW_ID: intent_id, "merchant_id": merchant_id}
    return (await session.execute(query, parameters)).first()


async def update_intent(session: Session, intent_id: str, **values: Any) -> None:
    await session.execute(update_by_id(payment_intents), {ROW_ID: intent_id, **values})


async def page_intents(
    session: Session,
    merchant_id: str,
    params: ListParams,
    customer: str | None,
    created: CreatedFilter | int | None,
) -> Page:
    where = [payment_intents.c.merchant_id == merchant_id]
    if customer:
        where.append(payment_intents.c.customer_id == customer)
    where.extend(created_clauses(payment_intents.c.created, created))
    return await fetch_page(session, payment_intents, params, where)


async def insert_charge(session: Session, **values: Any) -> None:
    await session.execute(sa.insert(charges), values)


async def get_charge(
    session: Session, merchant_id: str, charge_id: str, *, for_update: bool = False
) -> sa.Row[Any] | None:
    query = select_owned_by_id(charges, for_update=for_update)
    parameters = {ROW_ID: charge_id, "merchant_id": merchant_id}
    return (await session.execute(query, parameters)).first()


async def update_charge(session: Session, charge_id: str, **values: Any) -> None:
    await session.execute(update_by_id(charges), {ROW_ID: charge_id, **values})


async def add_refunded_amount(session: Session, charge_id: str, amount: int) -> None:
    """Increment in SQL, so concurrent refunds can never overwrite each other's total."""
    await session.execute(
        sa.update(charges)
        .where(charges.c.id == charge_id)
        .values(amount_refunded=charges.c.amount_refunded + amount)
    )


async def page_charges(
    session: Session,
    merchant_id: str,
    params: ListParams,
    customer: str | None,
    payment_intent: str | None,
    created: CreatedFilter | int | None,
) -> Page:
    where = [charges.c.merchant_id == merchant_id]
    if customer:
        where.append(charges.c.customer_id == customer)
    if payment_intent:
        where.append(charges.c.payment_intent_id == payment_intent)
    where.extend(created_clauses(charges.c.created, created))
    return await fetch_page(session, charges, params, where)


async def insert_attempt(session: Session, **values: Any) -> None:
    await session.execute(sa.insert(payment_attempts), values)


async def get_attempt(session: Session, attempt_id: str) -> sa.Row[Any] | None:
    query = sa.select(payment_attempts).where(payment_attempts.c.id == attempt_id)
    return (await session.execute(query)).first()


async def update_attempt(session: Session, attempt_id: str, **values: Any) -> None:
    await session.execute(update_by_id(payment_attempts), {ROW_ID: attempt_id, **values})


_CLAIM_ATTEMPT = update_by_id(payment_attempts).where(
    payment_attempts.c.status.in_(sa.bindparam("expected", expanding=True))
)


async def claim_attempt(
    session: Session, attempt_id: str, expected: AbstractSet[str], **values: Any
) -> bool:
    """Move an attempt out of one of the ``expected`` statuses; False if someone else did.

    Whoever flips the status applies the outcome, so a result is never applied twice
    (the request path, the 3-D Secure page and the janitor may race)."""
    parameters = {ROW_ID: attempt_id, "expected": sorted(expected), **values}
    result = await session.execute(_CLAIM_ATTEMPT, parameters)
    return result.rowcount == 1


async def attempts_to_resolve(
    session: Session, started_before: float, limit: int
) -> list[sa.Row[Any]]:
    """Attempts still waiting for an answer: unknown ones, and pending ones old enough
    that the request that made them must have died."""
    query = (
        sa.select(payment_attempts)
        .where(
            sa.or_(
                payment_attempts.c.status == AttemptStatus.UNKNOWN.value,
                sa.and_(
                    payment_attempts.c.status == AttemptStatus.PENDING.value,
                    payment_attempts.c.started_at < started_before,
                ),
            )
        )
        .order_by(payment_attempts.c.started_at)
        .limit(limit)
    )
    return list((await session.execute(query)).all())


async def find_attempt_by_reference(
    session: Session, processor_reference: str, operation: str
) -> sa.Row[Any] | None:
    query = sa.select(payment_attempts).where(
        payment_attempts.c.processor_reference == processor_reference,
        payment_attempts.c.operation == operation,
    )
    return (await session.execute(query)).first()


async def find_attempt_by_processor_reference(
    session: Session, processor: str, processor_reference: str
) -> sa.Row[Any] | None:
    """The attempt a processor's webhook is about (any operation)."""
    query = sa.select(payment_attempts).where(
        payment_attempts.c.processor == processor,
        payment_attempts.c.processor_reference == processor_reference,
    )
    return (await session.execute(query)).first()


async def all_attempts(session: Session, processor: str) -> list[sa.Row[Any]]:
    query = sa.select(payment_attempts).where(payment_attempts.c.processor == processor)
    return list((await session.execute(query)).all())


async def successful_authorization(session: Session, intent_id: str) -> sa.Row[Any] | None:
    query = sa.select(payment_attempts).where(
        payment_attempts.c.payment_intent_id == intent_id,
        payment_attempts.c.operation == "authorize",
        payment_attempts.c.status == AttemptStatus.SUCCEEDED.value,
    )
    return (await session.execute(query)).first()


async def has_open_attempt(session: Session, intent_id: str, operation: str) -> bool:
    query = sa.select(sa.func.count()).where(
        payment_attempts.c.payment_intent_id == intent_id,
        payment_attempts.c.operation == operation,
        payment_attempts.c.status.in_([AttemptStatus.PENDING.value, AttemptStatus.UNKNOWN.value]),
    )
    return bool((await session.execute(query)).scalar_one())


async def insert_refund(session: Session, **values: Any) -> None:
    await session.execute(sa.insert(refunds), values)


async def get_refund(session: Session, merchant_id: str, refund_id: str) -> sa.Row[Any] | None:
    query = sa.select(refunds).where(
        refunds.c.id == refund_id, refunds.c.merchant_id == merchant_id
    )
    return (await session.execute(query)).first()


async def get_refund_by_id(session: Session, refund_id: str) -> sa.Row[Any] | None:
    return (await session.execute(sa.select(refunds).where(refunds.c.id == refund_id))).first()


async def update_refund(session: Session, refund_id: str, **values: Any) -> None:
    await session.execute(sa.update(refunds).where(refunds.c.id == refund_id).values(**values))


async def pending_refund_total(session: Session, charge_id: str) -> int:
    query = sa.select(sa.func.coalesce(sa.func.sum(refunds.c.amount), 0)).where(
        refunds.c.charge_id == charge_id, refunds.c.status == RefundStatus.PENDING.value
    )
    return int((await session.execute(query)).scalar_one())


async def page_refunds(
    session: Session,
    merchant_id: str,
    params: ListParams,
    charge: str | None,
    payment_intent: str | None,
    created: CreatedFilter | int | None,
) -> Page:
    where = [refunds.c.merchant_id == merchant_id]
    if charge:
        where.append(refunds.c.charge_id == charge)
    if payment_intent:
        where.append(refunds.c.payment_intent_id == payment_intent)
    where.extend(created_clauses(refunds.c.created, created))
    return await fetch_page(session, refunds, params, where)


# --- a payment's history (read-only, for the dashboard's timeline) ----------------------


async def attempts_of_intent(
    session: Session, merchant_id: str, intent_id: str
) -> list[sa.Row[Any]]:
    """Every processor call of one intent (authorizations, captures, voids, refunds),
    in the order they started."""
    query = (
        sa.select(payment_attempts)
        .where(
            payment_attempts.c.merchant_id == merchant_id,
            payment_attempts.c.payment_intent_id == intent_id,
        )
        .order_by(payment_attempts.c.started_at, payment_attempts.c.id)
    )
    return list((await session.execute(query)).all())


async def refunds_of_intent(
    session: Session, merchant_id: str, intent_id: str
) -> list[sa.Row[Any]]:
    query = (
        sa.select(refunds)
        .where(refunds.c.merchant_id == merchant_id, refunds.c.payment_intent_id == intent_id)
        .order_by(refunds.c.id)
    )
    return list((await session.execute(query)).all())
