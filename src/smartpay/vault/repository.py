"""Every SQL statement of the vault."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from smartpay.kit.db import ROW_ID, Session, select_owned_by_id
from smartpay.vault.crypto import SealedRecord
from smartpay.vault.models import vault_cards


async def insert(
    session: Session, *, token: str, merchant_id: str, sealed: SealedRecord, created: int
) -> None:
    await session.execute(
        sa.insert(vault_cards).values(
            id=token,
            merchant_id=merchant_id,
            ciphertext=sealed.ciphertext,
            nonce=sealed.nonce,
            wrapped_key=sealed.wrapped_key,
            key_version=sealed.key_version,
            created=created,
        )
    )


async def get(session: Session, merchant_id: str, token: str) -> sa.Row[Any] | None:
    parameters = {ROW_ID: token, "merchant_id": merchant_id}
    return (await session.execute(select_owned_by_id(vault_cards), parameters)).first()


async def batch_not_under_version(
    session: Session, version: str, after_id: str, limit: int
) -> list[sa.Row[Any]]:
    """The next records (by id, after ``after_id``) whose key is not wrapped under ``version``."""
    query = (
        sa.select(vault_cards.c.id, vault_cards.c.wrapped_key, vault_cards.c.key_version)
        .where(vault_cards.c.key_version != version, vault_cards.c.id > after_id)
        .order_by(vault_cards.c.id)
        .limit(limit)
    )
    return list((await session.execute(query)).all())


async def update_wrapped_key(
    session: Session,
    token: str,
    *,
    old_version: str,
    wrapped_key: bytes,
    key_version: str,
) -> bool:
    """Replace a record's wrapped key, only if it is still under ``old_version``."""
    result = await session.execute(
        sa.update(vault_cards)
        .where(vault_cards.c.id == token, vault_cards.c.key_version == old_version)
        .values(wrapped_key=wrapped_key, key_version=key_version)
    )
    return result.rowcount == 1
