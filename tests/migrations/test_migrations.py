"""The one Alembic chain builds exactly the schema the models describe, on SQLite and
on PostgreSQL, and upgrading twice is harmless."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from smartpay.kit.db import Database, metadata
from smartpay.kit.migrations import upgrade
from smartpay.models_registry import import_all_models


def _diff(connection: Any) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def test_migrations_match_models(database_url: str) -> None:
    import_all_models()
    await asyncio.to_thread(upgrade, database_url)
    await asyncio.to_thread(upgrade, database_url)  # idempotent
    database = Database(database_url)
    try:
        async with database.engine.connect() as conn:
            differences = await conn.run_sync(_diff)
    finally:
        await database.dispose()
    assert differences == []
