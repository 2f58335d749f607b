"""Idempotency-Key handling for incoming POSTs, scoped to the merchant.

A key is claimed by inserting its row inside the request's own transaction. On
PostgreSQL a concurrent insert of the same key blocks on the primary key until the first
transaction ends, so exactly one request executes; the other then finds the stored
response and replays it. Multi-phase work (a payment confirmation commits before it
calls the processor) leaves the row ``in_progress`` between phases; a duplicate meanwhile
waits briefly and replays, or gets 409. If the process dies between phases the row keeps
the id of the resource it was working on, and whoever resolves that resource (the
janitor) completes the row with the resource's final state.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson
import sqlalchemy as sa

from smartpay.errors import IdempotencyConflict, IdempotencyError
from smartpay.kit.db import Session, insert_if_absent, metadata

MAX_KEY_LENGTH = 255


class KeyStatus(StrEnum):
    IN_PROGRESS = "in_progress"  # claimed; the request that owns it has not finished
    COMPLETE = "complete"  # the response is stored and replayed for this key


idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("merchant_id", sa.String(40), primary_key=True),
    sa.Column("key", sa.String(MAX_KEY_LENGTH), primary_key=True),
    sa.Column("request_fingerprint", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("resource_id", sa.String(40), nullable=True, index=True),
    sa.Column("response_status", sa.Integer, nullable=True),
    sa.Column("response_body", sa.LargeBinary, nullable=True),
    sa.Column("created", sa.BigInteger, nullable=False, index=True),
)


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status: int
    body: bytes


def request_fingerprint(method: str, path: str, params: dict[str, Any]) -> str:
    canonical = orjson.dumps([method, path, params], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


async def claim(
    session: Session,
    *,
    merchant_id: str,
    key: str,
    fingerprint: str,
    now: int,
    ttl_seconds: int,
) -> StoredResponse | None:
    """Claim ``key`` for this request, or return the response to replay.

    Raises ``IdempotencyError`` when the key was used with other parameters and
    ``IdempotencyConflict`` while another request holding it is still running.
    """
    table = idempotency_keys
    # An expired key may be reused: drop it first (24 h by default, as Stripe keeps them).
    await session.execute(
        sa.delete(table).where(
            table.c.merchant_id == merchant_id,
            table.c.key == key,
            table.c.created < now - ttl_seconds,
        )
    )
    values = {
        "merchant_id": merchant_id,
        "key": key,
        "request_fingerprint": fingerprint,
        "status": KeyStatus.IN_PROGRESS.value,
        "created": now,
    }
    inserted = await session.execute(insert_if_absent(table), values)
    if inserted.rowcount == 1:
        return None
    row = (
        await session.execute(
            sa.select(table).where(table.c.merchant_id == merchant_id, table.c.key == key)
        )
    ).one()
    if row.request_fingerprint != fingerprint:
        raise IdempotencyError(
            "Keys for idempotent requests can only be used with the same parameters they "
            f"were first used with. Try using a key other than {key!r} if you meant to "
            "execute a different request."
        )
    if row.status == KeyStatus.COMPLETE.value:
        return StoredResponse(status=row.response_status, body=row.response_body)
    raise IdempotencyConflict(
        "There is currently another in-progress request using this Idempotency-Key. "
        "Retry after a short wait."
    )


async def attach_resource(
    session: Session, *, merchant_id: str, key: str, resource_id: str
) -> None:
    """Record which object a multi-phase request works on (its recovery point)."""
    await session.execute(
        sa.update(idempotency_keys)
        .where(idempotency_keys.c.merchant_id == merchant_id, idempotency_keys.c.key == key)
        .values(resource_id=resource_id)
    )


async def complete(
    session: Session, *, merchant_id: str, key: str, status: int, body: bytes
) -> None:
    await session.execute(
        sa.update(idempotency_keys)
        .where(idempotency_keys.c.merchant_id == merchant_id, idempotency_keys.c.key == key)
        .values(status=KeyStatus.COMPLETE.value, response_status=status, response_body=body)
    )


async def complete_for_resource(
    session: Session, *, resource_id: str, status: int, body: bytes
) -> None:
    """Complete every key left in progress on ``resource_id`` (after a crash between
    phases), so retries replay the resource's final state."""
    await session.execute(
        sa.update(idempotency_keys)
        .where(
            idempotency_keys.c.resource_id == resource_id,
            idempotency_keys.c.status == KeyStatus.IN_PROGRESS.value,
        )
        .values(status=KeyStatus.COMPLETE.value, response_status=status, response_body=body)
    )


async def release(session: Session, *, merchant_id: str, key: str) -> None:
    """Forget an in-progress claim whose request failed before anything happened at the
    processor, so a retry with the same key runs again instead of waiting on it."""
    await session.execute(
        sa.delete(idempotency_keys).where(
            idempotency_keys.c.merchant_id == merchant_id,
            idempotency_keys.c.key == key,
            idempotency_keys.c.status == KeyStatus.IN_PROGRESS.value,
        )
    )


async def purge_expired(session: Session, *, now: int, ttl_seconds: int) -> int:
    result = await session.execute(
        sa.delete(idempotency_keys).where(
            idempotency_keys.c.created < now - ttl_seconds,
            idempotency_keys.c.status == KeyStatus.COMPLETE.value,
        )
    )
    return int(result.rowcount or 0)
