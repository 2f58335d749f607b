from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from smartpay.ach.models import ach_bank_accounts
from smartpay.cards.models import payment_methods
from smartpay.kit.db import Session
from smartpay.kit.pagination import ListParams, Page, fetch_page


async def insert(session: Session, **values: Any) -> None:
    await session.execute(sa.insert(payment_methods), values)


# A us_bank_account payment method's bank details live in ach_bank_accounts.
_BANK_COLUMNS = (
    ach_bank_accounts.c.routing_number,
    ach_bank_accounts.c.account_type,
    ach_bank_accounts.c.account_holder_type,
    ach_bank_accounts.c.bank_name,
    ach_bank_accounts.c.mandate_id,
)
_WITH_BANK = payment_methods.outerjoin(
    ach_bank_accounts, ach_bank_accounts.c.payment_method_id == payment_methods.c.id
)


_GET = (
    sa.select(payment_methods, *_BANK_COLUMNS)
    .select_from(_WITH_BANK)
    .where(
        payment_methods.c.id == sa.bindparam("payment_method_id"),
        payment_methods.c.merchant_id == sa.bindparam("merchant_id"),
    )
)


async def get(session: Session, merchant_id: str, payment_method_id: str) -> sa.Row[Any] | None:
    parameters = {"payment_method_id": payment_method_id, "merchant_id": merchant_id}
    return (await session.execute(_GET, parameters)).first()


async def update(session: Session, payment_method_id: str, **values: Any) -> None:
    await session.execute(
        sa.update(payment_methods).where(payment_methods.c.id == payment_method_id).values(**values)
    )


async def page_for_customer(
    session: Session, merchant_id: str, customer_id: str, params: ListParams
) -> Page:
    where = [
        payment_methods.c.merchant_id == merchant_id,
        payment_methods.c.customer_id == customer_id,
    ]
    page = await fetch_page(session, payment_methods, params, where)
    if any(row.type == "us_bank_account" for row in page.rows):
        # Bank details are in their own table: read those rows again with them.
        rows = [
            (await get(session, merchant_id, row.id)) if row.type == "us_bank_account" else row
            for row in page.rows
        ]
        page = Page(rows=[row for row in rows if row is not None], has_more=page.has_more)
    return page
