"""Every SQL statement of the risk domain."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from smartpay.kit.db import Session, insert_if_absent, upsert
from smartpay.kit.pagination import ListParams, Page, fetch_page
from smartpay.payments.models import payment_intents
from smartpay.risk.models import (
    ReviewStatus,
    risk_feature_state,
    risk_labels,
    risk_list_entries,
    risk_reviews,
    risk_rules,
    risk_terminal_days,
    risk_terminal_first_seen,
)

# ----------------------------------------------------------------- live feature state

_STATE_UPSERT = upsert(risk_feature_state, ["key"], replace=["state", "updated_at"])
_TERMINAL_DAY_UPSERT = upsert(
    risk_terminal_days, ["merchant_id", "day", "shard"], add=["transactions", "frauds"]
)
_LABEL_UPSERT = upsert(
    risk_labels, ["payment_intent_id"], replace=["is_fraud", "source", "created"]
)


# The statements of every payment are built once: SQLAlchemy then reuses their cache
# keys and compiled forms, where a statement built per call is keyed again each time.
_STATES = sa.select(risk_feature_state.c.key, risk_feature_state.c.state).where(
    risk_feature_state.c.key.in_(sa.bindparam("keys", expanding=True))
)
# Serialises concurrent payments of the same card or customer on their rows (PostgreSQL),
# so their read-modify-write of the counters does not lose an update.
_STATES_FOR_UPDATE = _STATES.with_for_update()


async def read_feature_states(
    session: Session, keys: Sequence[str], *, for_update: bool
) -> dict[str, Any]:
    """The stored states of `keys` (absent keys are missing from the answer); one SELECT."""
    locking = for_update and session.dialect.name == "postgresql"
    query = _STATES_FOR_UPDATE if locking else _STATES
    rows = (await session.execute(query, {"keys": list(keys)})).all()
    return {row.key: row.state for row in rows}


async def write_feature_states(
    session: Session, states: Mapping[str, dict[str, Any]], updated_at: float
) -> None:
    """Insert or replace the states of several keys: one statement, executed for many rows."""
    if not states:
        return
    await session.execute(
        _STATE_UPSERT,
        [{"key": key, "state": state, "updated_at": updated_at} for key, state in states.items()],
    )


def _terminal_query() -> sa.CompoundSelect[Any]:
    days = risk_terminal_days
    first_seen = risk_terminal_first_seen
    merchant_id = sa.bindparam("merchant_id", type_=sa.String)
    no_float = sa.cast(sa.null(), sa.Float)
    no_integer = sa.cast(sa.null(), sa.BigInteger)
    counters = (
        sa.select(
            days.c.day.label("day"),
            sa.func.sum(days.c.transactions).label("transactions"),
            sa.func.sum(days.c.frauds).label("frauds"),
            no_float.label("first_seen"),
        )
        .where(
            days.c.merchant_id == merchant_id,
            days.c.day.between(sa.bindparam("first_day"), sa.bindparam("last_day")),
        )
        .group_by(days.c.day)
    )
    seen = sa.select(
        sa.cast(sa.null(), sa.Integer), no_integer, no_integer, first_seen.c.first_seen
    ).where(first_seen.c.merchant_id == merchant_id)
    return sa.union_all(counters, seen)


_TERMINAL = _terminal_query()


async def read_terminal_days(
    session: Session, merchant_id: str, first_day: int, last_day: int
) -> tuple[dict[int, tuple[int, int]], float | None]:
    """(transactions, frauds) per day for the merchant between two days, inclusive, and
    its first-seen time (None before its first payment is recorded).

    One statement: the first-seen row is a UNION ALL branch of the day-counter query
    (its day is NULL), so the merchant's age costs no extra round trip per payment.
    """
    by_day: dict[int, tuple[int, int]] = {}
    merchant_first_seen: float | None = None
    parameters = {"merchant_id": merchant_id, "first_day": first_day, "last_day": last_day}
    for day, count, frauds, seen_at in (await session.execute(_TERMINAL, parameters)).all():
        if day is None:
            merchant_first_seen = float(seen_at)
        else:
            by_day[int(day)] = (int(count), int(frauds))
    return by_day, merchant_first_seen


async def record_terminal_first_seen(session: Session, merchant_id: str, seen_at: float) -> None:
    """Remember when the merchant was first seen; once stored, the time never changes
    (a concurrent first payment that also saw none leaves the stored one in place)."""
    await session.execute(
        insert_if_absent(
            risk_terminal_first_seen,
            {"merchant_id": merchant_id, "first_seen": seen_at},
        )
    )


async def add_to_terminal_day(
    session: Session, merchant_id: str, day: int, shard: int, transactions: int, frauds: int
) -> None:
    await session.execute(
        _TERMINAL_DAY_UPSERT,
        {
            "merchant_id": merchant_id,
            "day": day,
            "shard": shard,
            "transactions": transactions,
            "frauds": frauds,
        },
    )


# ----------------------------------------------------------------- rules and lists


_RULES = (
    sa.select(risk_rules)
    .where(risk_rules.c.merchant_id == sa.bindparam("merchant_id"))
    .order_by(risk_rules.c.position, risk_rules.c.id)
)


async def merchant_rules(session: Session, merchant_id: str) -> list[sa.Row[Any]]:
    return list((await session.execute(_RULES, {"merchant_id": merchant_id})).all())


async def get_rule(session: Session, merchant_id: str, rule_id: str) -> sa.Row[Any] | None:
    query = sa.select(risk_rules).where(
        risk_rules.c.id == rule_id, risk_rules.c.merchant_id == merchant_id
    )
    return (await session.execute(query)).first()


async def insert_rule(session: Session, **values: Any) -> None:
    await session.execute(sa.insert(risk_rules), values)


async def update_rule(session: Session, rule_id: str, **values: Any) -> None:
    await session.execute(sa.update(risk_rules).where(risk_rules.c.id == rule_id).values(**values))


async def delete_rule(session: Session, rule_id: str) -> None:
    await session.execute(sa.delete(risk_rules).where(risk_rules.c.id == rule_id))


async def page_rules(session: Session, merchant_id: str, params: ListParams) -> Page:
    return await fetch_page(session, risk_rules, params, [risk_rules.c.merchant_id == merchant_id])


_MATCHING = sa.select(
    risk_list_entries.c.id,
    risk_list_entries.c.kind,
    risk_list_entries.c.value,
    risk_list_entries.c.action,
).where(
    risk_list_entries.c.merchant_id == sa.bindparam("merchant_id"),
    risk_list_entries.c.value.in_(sa.bindparam("values", expanding=True)),
)


async def matching_list_entries(
    session: Session, merchant_id: str, candidates: Sequence[tuple[str, str]]
) -> list[sa.Row[Any]]:
    """The merchant's list entries equal to any of the (kind, value) candidates."""
    if not candidates:
        return []
    values = list({value for _, value in candidates})
    rows = (await session.execute(_MATCHING, {"merchant_id": merchant_id, "values": values})).all()
    wanted = set(candidates)
    return [row for row in rows if (row.kind, row.value) in wanted]


async def insert_list_entry(session: Session, **values: Any) -> bool:
    """False when the merchant already has an entry for this kind and value."""
    result = await session.execute(insert_if_absent(risk_list_entries, values))
    return bool(result.rowcount)


async def get_list_entry(session: Session, merchant_id: str, entry_id: str) -> sa.Row[Any] | None:
    query = sa.select(risk_list_entries).where(
        risk_list_entries.c.id == entry_id, risk_list_entries.c.merchant_id == merchant_id
    )
    return (await session.execute(query)).first()


async def delete_list_entry(session: Session, entry_id: str) -> None:
    await session.execute(sa.delete(risk_list_entries).where(risk_list_entries.c.id == entry_id))


async def page_list_entries(
    session: Session, merchant_id: str, params: ListParams, kind: str | None
) -> Page:
    where = [risk_list_entries.c.merchant_id == merchant_id]
    if kind:
        where.append(risk_list_entries.c.kind == kind)
    return await fetch_page(session, risk_list_entries, params, where)


# ----------------------------------------------------------------- reviews


async def insert_review(session: Session, **values: Any) -> None:
    await session.execute(sa.insert(risk_reviews), values)


async def get_review(
    session: Session, merchant_id: str, review_id: str, *, for_update: bool = False
) -> sa.Row[Any] | None:
    query = sa.select(risk_reviews).where(
        risk_reviews.c.id == review_id, risk_reviews.c.merchant_id == merchant_id
    )
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).first()


async def close_review(
    session: Session, review_id: str, *, status: str, reason: str, closed_at: int
) -> bool:
    """Move an open review to `status`; False if it was no longer open."""
    result = await session.execute(
        sa.update(risk_reviews)
        .where(risk_reviews.c.id == review_id, risk_reviews.c.status == ReviewStatus.OPEN.value)
        .values(status=status, closed_reason=reason, closed_at=closed_at)
    )
    return bool(result.rowcount)


async def page_reviews(
    session: Session, merchant_id: str, params: ListParams, status: str | None
) -> Page:
    where = [risk_reviews.c.merchant_id == merchant_id]
    if status:
        where.append(risk_reviews.c.status == status)
    return await fetch_page(session, risk_reviews, params, where)


async def link_review(session: Session, payment_intent_id: str, review_id: str) -> None:
    await session.execute(
        sa.update(payment_intents)
        .where(payment_intents.c.id == payment_intent_id)
        .values(review_id=review_id)
    )


async def intent_capture_method(
    session: Session, merchant_id: str, payment_intent_id: str
) -> str | None:
    query = sa.select(payment_intents.c.capture_method).where(
        payment_intents.c.id == payment_intent_id, payment_intents.c.merchant_id == merchant_id
    )
    return (await session.execute(query)).scalar_one_or_none()


# ----------------------------------------------------------------- labels


async def get_label(session: Session, payment_intent_id: str) -> sa.Row[Any] | None:
    query = sa.select(risk_labels).where(risk_labels.c.payment_intent_id == payment_intent_id)
    return (await session.execute(query)).first()


async def put_label(session: Session, **values: Any) -> None:
    await session.execute(_LABEL_UPSERT, values)


async def payment_method_fingerprint(
    session: Session, merchant_id: str, payment_method_id: str
) -> str | None:
    from smartpay.cards.models import payment_methods

    query = sa.select(payment_methods.c.fingerprint).where(
        payment_methods.c.id == payment_method_id, payment_methods.c.merchant_id == merchant_id
    )
    return (await session.execute(query)).scalar_one_or_none()


async def payment_method_row(
    session: Session, merchant_id: str, payment_method_id: str
) -> sa.Row[Any] | None:
    from smartpay.cards.models import payment_methods

    query = sa.select(payment_methods).where(
        payment_methods.c.id == payment_method_id, payment_methods.c.merchant_id == merchant_id
    )
    return (await session.execute(query)).first()


async def rule_count(session: Session, merchant_id: str) -> int:
    query = sa.select(sa.func.count()).where(risk_rules.c.merchant_id == merchant_id)
    return int((await session.execute(query)).scalar_one())
