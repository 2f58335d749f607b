"""Every SQL statement of the ACH domain."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import sqlalchemy as sa

from smartpay.ach.models import (
    ACH_PROCESSOR,
    FileStatus,
    TransferStatus,
    ach_bank_accounts,
    ach_batches,
    ach_files,
    ach_mandates,
    ach_odfi_state,
    ach_return_files,
    ach_transfers,
    processing_costs,
)
from smartpay.cards.models import payment_methods
from smartpay.kit.db import Session, insert_if_absent
from smartpay.kit.pagination import ListParams, Page, fetch_page
from smartpay.merchants.models import merchants
from smartpay.payments.models import charges

# --- bank accounts and mandates ----------------------------------------------------------


async def insert_bank_account(session: Session, **values: Any) -> None:
    await session.execute(sa.insert(ach_bank_accounts), values)


async def insert_mandate(session: Session, **values: Any) -> None:
    await session.execute(sa.insert(ach_mandates), values)


async def get_mandate(session: Session, merchant_id: str, mandate_id: str) -> sa.Row[Any] | None:
    query = sa.select(ach_mandates).where(
        ach_mandates.c.id == mandate_id, ach_mandates.c.merchant_id == merchant_id
    )
    return (await session.execute(query)).first()


async def update_mandate(session: Session, mandate_id: str, **values: Any) -> None:
    await session.execute(
        sa.update(ach_mandates).where(ach_mandates.c.id == mandate_id).values(**values)
    )


async def bank_account(session: Session, payment_method_id: str) -> sa.Row[Any] | None:
    """The bank account with its payment method's vault token, last4 and merchant."""
    query = (
        sa.select(
            ach_bank_accounts,
            payment_methods.c.vault_token,
            payment_methods.c.last4,
            payment_methods.c.billing_details,
        )
        .join(payment_methods, payment_methods.c.id == ach_bank_accounts.c.payment_method_id)
        .where(ach_bank_accounts.c.payment_method_id == payment_method_id)
    )
    return (await session.execute(query)).first()


async def bank_accounts(session: Session, ids: Collection[str]) -> dict[str, sa.Row[Any]]:
    if not ids:
        return {}
    query = (
        sa.select(ach_bank_accounts, payment_methods.c.vault_token, payment_methods.c.last4)
        .join(payment_methods, payment_methods.c.id == ach_bank_accounts.c.payment_method_id)
        .where(ach_bank_accounts.c.payment_method_id.in_(list(ids)))
    )
    return {row.payment_method_id: row for row in await session.execute(query)}


async def update_bank_account(session: Session, payment_method_id: str, **values: Any) -> None:
    await session.execute(
        sa.update(ach_bank_accounts)
        .where(ach_bank_accounts.c.payment_method_id == payment_method_id)
        .values(**values)
    )


async def update_payment_method(session: Session, payment_method_id: str, **values: Any) -> None:
    await session.execute(
        sa.update(payment_methods).where(payment_methods.c.id == payment_method_id).values(**values)
    )


# --- transfers ---------------------------------------------------------------------------


async def insert_transfer(session: Session, **values: Any) -> None:
    await session.execute(sa.insert(ach_transfers), values)


async def get_transfer(
    session: Session,
    merchant_id: str | None,
    transfer_id: str,
    *,
    direction: str | None = None,
    for_update: bool = False,
) -> sa.Row[Any] | None:
    query = sa.select(ach_transfers).where(ach_transfers.c.id == transfer_id)
    if merchant_id is not None:
        query = query.where(ach_transfers.c.merchant_id == merchant_id)
    if direction is not None:
        query = query.where(ach_transfers.c.direction == direction)
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).first()


async def update_transfer(
    session: Session, transfer_id: str, expected_status: str, **values: Any
) -> bool:
    """Compare-and-set on the status: False when another transaction moved it first."""
    result = await session.execute(
        sa.update(ach_transfers)
        .where(ach_transfers.c.id == transfer_id, ach_transfers.c.status == expected_status)
        .values(**values)
    )
    return bool(result.rowcount)


async def set_transfer_fields(session: Session, transfer_id: str, **values: Any) -> None:
    await session.execute(
        sa.update(ach_transfers).where(ach_transfers.c.id == transfer_id).values(**values)
    )


async def page_transfers(
    session: Session, merchant_id: str, direction: str, params: ListParams, status: str | None
) -> Page:
    where = [ach_transfers.c.merchant_id == merchant_id, ach_transfers.c.direction == direction]
    if status is not None:
        where.append(ach_transfers.c.status == status)
    return await fetch_page(session, ach_transfers, params, where)


async def transfers_with_status(
    session: Session, status: TransferStatus, *, odfi: str | None = None, limit: int | None = None
) -> list[sa.Row[Any]]:
    query = sa.select(ach_transfers).where(ach_transfers.c.status == status.value)
    if odfi is not None:
        query = query.where(ach_transfers.c.odfi == odfi)
    query = query.order_by(ach_transfers.c.id)
    if limit is not None:
        query = query.limit(limit)
    return list((await session.execute(query)).all())


async def transfers_due_to_settle(session: Session, now: int, limit: int) -> list[sa.Row[Any]]:
    query = (
        sa.select(ach_transfers)
        .where(
            ach_transfers.c.status == TransferStatus.SUBMITTED.value,
            ach_transfers.c.settles_at <= now,
        )
        .order_by(ach_transfers.c.settles_at, ach_transfers.c.id)
        .limit(limit)
    )
    return list((await session.execute(query)).all())


async def transfers_of_file(session: Session, file_id: str) -> list[sa.Row[Any]]:
    query = (
        sa.select(ach_transfers)
        .where(ach_transfers.c.file_id == file_id)
        .order_by(ach_transfers.c.trace_number)
    )
    return list((await session.execute(query)).all())


async def transfer_by_trace(session: Session, odfi: str, trace_number: str) -> sa.Row[Any] | None:
    """The latest transfer with this trace number at this ODFI (sequences wrap after
    ten million entries, so the newest one is the one a return can be about)."""
    query = (
        sa.select(ach_transfers)
        .where(ach_transfers.c.odfi == odfi, ach_transfers.c.trace_number == trace_number)
        .order_by(ach_transfers.c.id.desc())
        .limit(1)
        .with_for_update()
    )
    return (await session.execute(query)).first()


async def transfers_of_escrow(session: Session, escrow_id: str) -> list[sa.Row[Any]]:
    query = (
        sa.select(ach_transfers)
        .where(ach_transfers.c.escrow_id == escrow_id)
        .order_by(ach_transfers.c.id)
    )
    return list((await session.execute(query)).all())


# --- files, batches and ODFI state -------------------------------------------------------


async def odfi_state(session: Session, odfi: str) -> sa.Row[Any]:
    """The ODFI's state row, created on first use, locked for this transaction."""
    await session.execute(insert_if_absent(ach_odfi_state, {"odfi": odfi, "next_sequence": 1}))
    query = sa.select(ach_odfi_state).where(ach_odfi_state.c.odfi == odfi).with_for_update()
    return (await session.execute(query)).one()


async def update_odfi_state(session: Session, odfi: str, **values: Any) -> None:
    await session.execute(
        sa.update(ach_odfi_state).where(ach_odfi_state.c.odfi == odfi).values(**values)
    )


async def files_created_on(session: Session, odfi: str, creation_date: str) -> int:
    query = sa.select(sa.func.count()).where(
        ach_files.c.odfi == odfi, ach_files.c.creation_date == creation_date
    )
    return int((await session.execute(query)).scalar_one())


async def insert_file(session: Session, **values: Any) -> None:
    await session.execute(sa.insert(ach_files), values)


async def insert_batches(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await session.execute(sa.insert(ach_batches), list(rows))


async def pending_files(session: Session) -> list[sa.Row[Any]]:
    query = (
        sa.select(ach_files)
        .where(ach_files.c.status == FileStatus.PENDING.value)
        .order_by(ach_files.c.id)
    )
    return list((await session.execute(query)).all())


async def claim_file(session: Session, file_id: str, **values: Any) -> bool:
    result = await session.execute(
        sa.update(ach_files)
        .where(ach_files.c.id == file_id, ach_files.c.status == FileStatus.PENDING.value)
        .values(status=FileStatus.WRITTEN.value, **values)
    )
    return bool(result.rowcount)


async def batches_of_file(session: Session, file_id: str) -> list[sa.Row[Any]]:
    query = (
        sa.select(ach_batches)
        .where(ach_batches.c.file_id == file_id)
        .order_by(ach_batches.c.batch_number)
    )
    return list((await session.execute(query)).all())


async def all_files(session: Session) -> list[sa.Row[Any]]:
    query = sa.select(ach_files).order_by(ach_files.c.id)
    return list((await session.execute(query)).all())


async def merchant_names(session: Session, ids: Collection[str]) -> dict[str, str]:
    query = sa.select(merchants.c.id, merchants.c.name).where(merchants.c.id.in_(list(ids)))
    return {row.id: row.name for row in await session.execute(query)}


# --- return files ------------------------------------------------------------------------


async def claim_return_file(session: Session, **values: Any) -> bool:
    """Records an ingested return file; False when a file of that name was already."""
    result = await session.execute(insert_if_absent(ach_return_files, values))
    return bool(result.rowcount)


async def set_return_file_counts(session: Session, name: str, **values: Any) -> None:
    await session.execute(
        sa.update(ach_return_files).where(ach_return_files.c.name == name).values(**values)
    )


# --- costs -------------------------------------------------------------------------------


async def insert_costs(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert_if_absent(processing_costs, list(rows)))


async def captured_charges_without_cost(session: Session, limit: int) -> list[sa.Row[Any]]:
    """Captured card charges that have no cost row yet (cost monitor backfill)."""
    missing = ~sa.exists().where(
        processing_costs.c.object_type == "charge", processing_costs.c.object_id == charges.c.id
    )
    query = (
        sa.select(
            charges.c.id,
            charges.c.merchant_id,
            charges.c.currency,
            charges.c.amount_captured,
            charges.c.fee,
            charges.c.created,
        )
        .where(
            charges.c.captured.is_(True),
            charges.c.amount_captured > 0,
            # A PaymentIntent paid by ACH is costed as its transfer, when batched.
            charges.c.processor != ACH_PROCESSOR,
            missing,
        )
        .order_by(charges.c.id)
        .limit(limit)
    )
    return list((await session.execute(query)).all())


async def cost_totals(
    session: Session, merchant_id: str, gte: int | None, lt: int | None
) -> list[sa.Row[Any]]:
    query = sa.select(
        processing_costs.c.currency,
        processing_costs.c.object_type,
        sa.func.count().label("n"),
        sa.func.sum(processing_costs.c.amount).label("amount"),
        sa.func.sum(processing_costs.c.actual_cost).label("actual_cost"),
        sa.func.sum(processing_costs.c.stripe_cost).label("stripe_cost"),
    ).where(processing_costs.c.merchant_id == merchant_id)
    if gte is not None:
        query = query.where(processing_costs.c.created >= gte)
    if lt is not None:
        query = query.where(processing_costs.c.created < lt)
    query = query.group_by(processing_costs.c.currency, processing_costs.c.object_type).order_by(
        processing_costs.c.currency, processing_costs.c.object_type
    )
    return list((await session.execute(query)).all())


async def batching_totals(
    session: Session, merchant_id: str, gte: int | None, lt: int | None
) -> sa.Row[Any]:
    """The merchant's batches: how many, their entries and the fees paid for them."""
    query = sa.select(
        sa.func.count().label("batches"),
        sa.func.coalesce(sa.func.sum(ach_batches.c.entry_count), 0).label("entries"),
        sa.func.coalesce(sa.func.sum(ach_batches.c.fee), 0).label("fees"),
    ).where(ach_batches.c.merchant_id == merchant_id)
    if gte is not None:
        query = query.where(ach_batches.c.created >= gte)
    if lt is not None:
        query = query.where(ach_batches.c.created < lt)
    return (await session.execute(query)).one()
