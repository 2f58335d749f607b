"""Every SQL statement of the sandbox's books. Rows are keyed by (profile, idempotency key)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from smartpay.connectors.base import RecordKind, RecordStatus
from smartpay.connectors.sandbox.models import sandbox_records
from smartpay.kit.db import Session, insert_if_absent

_Row = sa.Row[Any]


async def find_by_key(session: Session, processor: str, key: str) -> _Row | None:
    result = await session.execute(
        sa.select(sandbox_records).where(
            sandbox_records.c.processor == processor,
            sandbox_records.c.idempotency_key == key,
        )
    )
    return result.first()


async def find_by_reference(
    session: Session, processor: str, reference: str, *, for_update: bool = False
) -> _Row | None:
    query = sa.select(sandbox_records).where(
        sandbox_records.c.processor == processor,
        sandbox_records.c.processor_reference == reference,
    )
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).first()


async def insert_once(session: Session, values: dict[str, Any]) -> _Row:
    """Insert unless the key exists, and return the key's row: ours (one statement, the
    usual case), or the first one if the key was seen before or a concurrent call won (on
    PostgreSQL the insert waits for that call to commit)."""
    statement = insert_if_absent(sandbox_records).returning(*sandbox_records.c)
    row = (await session.execute(statement, values)).first()
    if row is None:
        row = await find_by_key(session, values["processor"], values["idempotency_key"])
    assert row is not None, "a row just inserted or found on conflict must be readable"
    return row


async def children_total(
    session: Session, processor: str, parent: str, kind: RecordKind
) -> tuple[int, int]:
    """How many succeeded operations of a kind an authorization has, and their total."""
    result = await session.execute(
        sa.select(
            sa.func.count(), sa.func.coalesce(sa.func.sum(sandbox_records.c.amount), 0)
        ).where(
            sandbox_records.c.processor == processor,
            sandbox_records.c.parent_reference == parent,
            sandbox_records.c.kind == kind.value,
            sandbox_records.c.status == RecordStatus.SUCCEEDED.value,
        )
    )
    count, total = result.one()
    return int(count), int(total)


async def update_reference(session: Session, processor: str, reference: str, **values: Any) -> None:
    await session.execute(
        sa.update(sandbox_records)
        .where(
            sandbox_records.c.processor == processor,
            sandbox_records.c.processor_reference == reference,
        )
        .values(**values)
    )


async def list_records(session: Session, processor: str, since: int) -> list[_Row]:
    result = await session.execute(
        sa.select(sandbox_records)
        .where(sandbox_records.c.processor == processor, sandbox_records.c.created >= since)
        .order_by(sandbox_records.c.id)
    )
    return list(result.all())
