"""Stripe list pagination: ``limit`` (1–100, default 10), ``starting_after``,
``ending_before``; ids are time-sortable (kit.ids), so pages are ordered by id alone,
newest first."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import BaseModel, Field

from smartpay.errors import InvalidRequest
from smartpay.kit.db import Session

DEFAULT_LIMIT = 10
MAX_LIMIT = 100


class ListParams(BaseModel):
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    starting_after: str | None = Field(default=None, max_length=255)
    ending_before: str | None = Field(default=None, max_length=255)


# Unix times in filters are bounded so no value overflows a BIGINT column.
UnixTime = Annotated[int, Field(ge=0, le=2**53)]


class CreatedFilter(BaseModel):
    """Stripe's ``created[gte]=…`` range filter (or ``created=…`` for an exact time)."""

    gt: UnixTime | None = None
    gte: UnixTime | None = None
    lt: UnixTime | None = None
    lte: UnixTime | None = None

    def clauses(self, column: sa.ColumnElement[Any]) -> list[sa.ColumnElement[bool]]:
        out: list[sa.ColumnElement[bool]] = []
        if self.gt is not None:
            out.append(column > self.gt)
        if self.gte is not None:
            out.append(column >= self.gte)
        if self.lt is not None:
            out.append(column < self.lt)
        if self.lte is not None:
            out.append(column <= self.lte)
        return out


@dataclass(slots=True)
class Page:
    rows: Sequence[sa.Row[Any]]
    has_more: bool


async def fetch_page(
    session: Session,
    table: sa.Table,
    params: ListParams,
    where: Sequence[sa.ColumnElement[bool]],
) -> Page:
    """One page of ``table`` rows matching ``where``, newest first."""
    if params.starting_after and params.ending_before:
        raise InvalidRequest(
            "Use either starting_after or ending_before, not both.", param="ending_before"
        )
    id_column = table.c.id
    query = sa.select(table).where(*where)
    if params.ending_before:
        # Walk forward in time from the cursor, then present newest first.
        query = query.where(id_column > params.ending_before).order_by(id_column.asc())
    else:
        if params.starting_after:
            query = query.where(id_column < params.starting_after)
        query = query.order_by(id_column.desc())
    rows = list((await session.execute(query.limit(params.limit + 1))).all())
    has_more = len(rows) > params.limit
    rows = rows[: params.limit]
    if params.ending_before:
        rows.reverse()
    return Page(rows=rows, has_more=has_more)


def list_body(url: str, data: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    return {"object": "list", "data": data, "has_more": has_more, "url": url}


def created_clauses(
    column: sa.ColumnElement[Any], created: CreatedFilter | UnixTime | None
) -> list[sa.ColumnElement[bool]]:
    """Stripe's ``created`` list filter: an exact unix time or a gt/gte/lt/lte range."""
    if created is None:
        return []
    if isinstance(created, CreatedFilter):
        return created.clauses(column)
    return [column == created]
