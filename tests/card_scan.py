"""Scans a test database and log text for card numbers and CVCs in plaintext."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from smartpay.kit.db import Database, metadata
from smartpay.models_registry import import_all_models

TEST_PANS = (
    "4242424242424242",
    "4000000000000002",
    "4000000000009995",
    "4000000000009987",
    "4000000000009979",
    "4000000000000069",
    "4000000000000127",
    "4000000000000119",
    "4100000000000019",
    "4000002760003184",
    "5555555555554444",
    "378282246310005",
)


def _texts(value: Any) -> Iterable[str]:
    if value is None:
        return
    if isinstance(value, bytes | bytearray | memoryview):
        yield bytes(value).decode("latin-1")
    else:
        yield str(value)


async def card_data_in_database(
    database: Database, secrets: Iterable[str] = TEST_PANS
) -> list[str]:
    """Every (table, column) whose plaintext contains one of ``secrets``."""
    import_all_models()
    needles = [s for s in secrets if s]
    found: list[str] = []
    async with database.engine.connect() as conn:
        for table in metadata.sorted_tables:
            try:
                rows = (await conn.execute(sa.select(table))).mappings().all()
            except sa.exc.DBAPIError:
                await conn.rollback()
                continue  # table not created in this database
            for row in rows:
                for column, value in row.items():
                    for text in _texts(value):
                        for needle in needles:
                            if needle in text:
                                found.append(f"{table.name}.{column} contains {needle[-4:]}")
    return found


def card_data_in_text(text: str, secrets: Iterable[str] = TEST_PANS) -> list[str]:
    return [f"…{s[-4:]}" for s in secrets if s and s in text]
