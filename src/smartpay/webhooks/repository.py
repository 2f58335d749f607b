"""Every SQL statement of webhooks: endpoints, secrets, fan-out and deliveries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from smartpay.events.models import events
from smartpay.kit.db import Session, insert_if_absent
from smartpay.kit.pagination import Page, fetch_page
from smartpay.webhooks.models import (
    DeliveryStatus,
    EndpointStatus,
    webhook_deliveries,
    webhook_delivery_attempts,
    webhook_endpoints,
    webhook_secrets,
)
from smartpay.webhooks.schemas import EndpointList

# ---- endpoints -------------------------------------------------------------------------


async def insert_endpoint(session: Session, **values: Any) -> None:
    await session.execute(sa.insert(webhook_endpoints), values)


async def get_endpoint(session: Session, merchant_id: str, endpoint_id: str) -> sa.Row[Any] | None:
    query = sa.select(webhook_endpoints).where(
        webhook_endpoints.c.id == endpoint_id,
        webhook_endpoints.c.merchant_id == merchant_id,
        webhook_endpoints.c.deleted.is_(False),
    )
    return (await session.execute(query)).first()


async def update_endpoint(session: Session, endpoint_id: str, **values: Any) -> None:
    await session.execute(
        sa.update(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id).values(**values)
    )


async def page_endpoints(session: Session, merchant_id: str, params: EndpointList) -> Page:
    where = [
        webhook_endpoints.c.merchant_id == merchant_id,
        webhook_endpoints.c.deleted.is_(False),
    ]
    return await fetch_page(session, webhook_endpoints, params, where)


async def enabled_endpoints(session: Session, merchant_ids: Sequence[str]) -> list[sa.Row[Any]]:
    query = sa.select(webhook_endpoints).where(
        webhook_endpoints.c.merchant_id.in_(merchant_ids),
        webhook_endpoints.c.status == EndpointStatus.ENABLED,
        webhook_endpoints.c.deleted.is_(False),
    )
    return list((await session.execute(query)).all())


async def endpoints_by_ids(session: Session, endpoint_ids: Sequence[str]) -> list[sa.Row[Any]]:
    query = sa.select(webhook_endpoints).where(webhook_endpoints.c.id.in_(endpoint_ids))
    return list((await session.execute(query)).all())


async def mark_failing(session: Session, endpoint_ids: Sequence[str], since: int) -> None:
    """Start the failure clock of endpoints that were not already failing."""
    await session.execute(
        sa.update(webhook_endpoints)
        .where(
            webhook_endpoints.c.id.in_(endpoint_ids),
            webhook_endpoints.c.failing_since.is_(None),
        )
        .values(failing_since=since)
    )


async def clear_failing(session: Session, endpoint_ids: Sequence[str]) -> None:
    await session.execute(
        sa.update(webhook_endpoints)
        .where(
            webhook_endpoints.c.id.in_(endpoint_ids),
            webhook_endpoints.c.failing_since.is_not(None),
        )
        .values(failing_since=None)
    )


async def disable_failing(
    session: Session, endpoint_ids: Sequence[str], cutoff: int
) -> list[sa.Row[Any]]:
    """Disable the enabled endpoints among ``endpoint_ids`` failing since ``cutoff`` or
    earlier; return them (as they now are)."""
    where = (
        webhook_endpoints.c.id.in_(endpoint_ids),
        webhook_endpoints.c.status == EndpointStatus.ENABLED,
        webhook_endpoints.c.deleted.is_(False),
        webhook_endpoints.c.failing_since <= cutoff,
    )
    rows = list((await session.execute(sa.select(webhook_endpoints).where(*where))).all())
    if rows:
        await session.execute(
            sa.update(webhook_endpoints)
            .where(webhook_endpoints.c.id.in_([r.id for r in rows]))
            .values(status=EndpointStatus.DISABLED)
        )
    return rows


# ---- secrets ---------------------------------------------------------------------------


async def insert_secret(session: Session, **values: Any) -> None:
    await session.execute(sa.insert(webhook_secrets), values)


async def expire_current_secrets(session: Session, endpoint_id: str, expires_at: int) -> None:
    await session.execute(
        sa.update(webhook_secrets)
        .where(webhook_secrets.c.endpoint_id == endpoint_id, webhook_secrets.c.expires_at.is_(None))
        .values(expires_at=expires_at)
    )


async def live_secrets(
    session: Session, endpoint_ids: Sequence[str], now: int
) -> list[sa.Row[Any]]:
    """The secrets that sign at ``now``, newest first within each endpoint."""
    query = (
        sa.select(webhook_secrets)
        .where(
            webhook_secrets.c.endpoint_id.in_(endpoint_ids),
            sa.or_(webhook_secrets.c.expires_at.is_(None), webhook_secrets.c.expires_at > now),
        )
        .order_by(webhook_secrets.c.endpoint_id, webhook_secrets.c.id.desc())
    )
    return list((await session.execute(query)).all())


# ---- fan-out ---------------------------------------------------------------------------

_EVENT_HEADER = (events.c.id, events.c.merchant_id, events.c.type, events.c.object_id)


async def claim_unfanned_events(session: Session, limit: int) -> list[sa.Row[Any]]:
    """The oldest events not yet fanned out. On PostgreSQL they stay locked until the
    transaction ends and other workers skip them; SQLite has one writer anyway."""
    query = (
        sa.select(*_EVENT_HEADER, events.c.created)
        .where(events.c.webhooks_fanned_out.is_(False))
        .order_by(events.c.id)
        .limit(limit)
    )
    if session.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list((await session.execute(query)).all())


async def mark_fanned_out(session: Session, event_ids: Sequence[str]) -> None:
    await session.execute(
        sa.update(events).where(events.c.id.in_(event_ids)).values(webhooks_fanned_out=True)
    )


async def events_by_ids(session: Session, event_ids: Sequence[str]) -> list[sa.Row[Any]]:
    query = sa.select(events).where(events.c.id.in_(event_ids))
    return list((await session.execute(query)).all())


async def events_between(
    session: Session,
    *,
    since: int,
    until: int | None,
    merchant_id: str | None,
    after_id: str,
    limit: int,
) -> list[sa.Row[Any]]:
    """A batch of event headers created in [since, until], by id after ``after_id``."""
    where = [events.c.created >= since, events.c.id > after_id]
    if until is not None:
        where.append(events.c.created <= until)
    if merchant_id is not None:
        where.append(events.c.merchant_id == merchant_id)
    query = sa.select(*_EVENT_HEADER).where(*where).order_by(events.c.id).limit(limit)
    return list((await session.execute(query)).all())


async def count_events_between(
    session: Session, *, since: int, until: int | None, merchant_id: str | None
) -> int:
    where = [events.c.created >= since]
    if until is not None:
        where.append(events.c.created <= until)
    if merchant_id is not None:
        where.append(events.c.merchant_id == merchant_id)
    query = sa.select(sa.func.count()).select_from(events).where(*where)
    return int((await session.execute(query)).scalar_one())


# ---- deliveries ------------------------------------------------------------------------


async def insert_deliveries(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert delivery rows, skipping (event, endpoint) pairs that already have one."""
    if rows:
        await session.execute(insert_if_absent(webhook_deliveries), rows)


async def claim_due(session: Session, now: int, lease_until: int, limit: int) -> list[str]:
    """Claim up to ``limit`` due deliveries: push their due time to ``lease_until`` so no
    other worker takes them while this one sends (and they come back if it dies)."""
    query = (
        sa.select(webhook_deliveries.c.id)
        .where(
            webhook_deliveries.c.status == DeliveryStatus.PENDING,
            webhook_deliveries.c.next_attempt_at <= now,
        )
        .order_by(webhook_deliveries.c.next_attempt_at)
        .limit(limit)
    )
    if session.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list((await session.execute(query)).scalars())
    if ids:
        await session.execute(
            sa.update(webhook_deliveries)
            .where(webhook_deliveries.c.id.in_(ids))
            .values(next_attempt_at=lease_until)
        )
    return ids


async def deliveries_by_ids(session: Session, delivery_ids: Sequence[str]) -> list[sa.Row[Any]]:
    query = sa.select(webhook_deliveries).where(webhook_deliveries.c.id.in_(delivery_ids))
    return list((await session.execute(query)).all())


_RESULT_COLUMNS = (
    "status",
    "attempts",
    "next_attempt_at",
    "last_error",
    "last_status_code",
    "delivered_at",
)


async def record_results(session: Session, results: list[dict[str, Any]]) -> None:
    """Write attempt outcomes: each dict has ``b_id`` and every column of _RESULT_COLUMNS."""
    if not results:
        return
    statement = (
        sa.update(webhook_deliveries)
        .where(webhook_deliveries.c.id == sa.bindparam("b_id"))
        .values({name: sa.bindparam(f"b_{name}") for name in _RESULT_COLUMNS})
    )
    await session.execute(
        statement,
        [{"b_id": r["b_id"], **{f"b_{n}": r[n] for n in _RESULT_COLUMNS}} for r in results],
    )


async def insert_attempts(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(sa.insert(webhook_delivery_attempts), rows)


async def dead_letter(session: Session, delivery_ids: Sequence[str], reason: str) -> None:
    await session.execute(
        sa.update(webhook_deliveries)
        .where(webhook_deliveries.c.id.in_(delivery_ids))
        .values(status=DeliveryStatus.FAILED, last_error=reason)
    )


async def deliveries_for_event(session: Session, event_id: str) -> list[sa.Row[Any]]:
    query = (
        sa.select(webhook_deliveries)
        .where(webhook_deliveries.c.event_id == event_id)
        .order_by(webhook_deliveries.c.id)
    )
    return list((await session.execute(query)).all())


async def attempts_for(session: Session, delivery_ids: Sequence[str]) -> list[sa.Row[Any]]:
    query = (
        sa.select(webhook_delivery_attempts)
        .where(webhook_delivery_attempts.c.delivery_id.in_(delivery_ids))
        .order_by(webhook_delivery_attempts.c.id)
    )
    return list((await session.execute(query)).all())


async def reset_for_events(
    session: Session, event_ids: Sequence[str], now: int, give_up_at: int
) -> int:
    """Make every delivery of these events due now, with a fresh retry window."""
    result = await session.execute(
        sa.update(webhook_deliveries)
        .where(webhook_deliveries.c.event_id.in_(event_ids))
        .values(status=DeliveryStatus.PENDING, next_attempt_at=now, give_up_at=give_up_at)
    )
    return int(result.rowcount)


async def deliveries_of_events(
    session: Session, merchant_id: str, event_ids: Sequence[str]
) -> list[sa.Row[Any]]:
    """The merchant's deliveries of these events, each with its endpoint's URL, in the
    order they were scheduled."""
    if not event_ids:
        return []
    query = (
        sa.select(webhook_deliveries, webhook_endpoints.c.url.label("endpoint_url"))
        .join(webhook_endpoints, webhook_endpoints.c.id == webhook_deliveries.c.endpoint_id)
        .where(
            webhook_deliveries.c.merchant_id == merchant_id,
            webhook_deliveries.c.event_id.in_(list(event_ids)),
        )
        .order_by(webhook_deliveries.c.id)
    )
    return list((await session.execute(query)).all())
