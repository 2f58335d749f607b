"""Ids sort in creation order under the C collation and under locale collations."""

import re

import sqlalchemy as sa

from smartpay.kit.db import Database
from smartpay.kit.ids import id_at, new_id
from tests.conftest import is_postgres


def test_ids_use_only_lowercase_base36_after_the_prefix() -> None:
    ids = [new_id("pi") for _ in range(1000)]
    assert all(re.fullmatch(r"pi_[0-9a-z]{24}", i) for i in ids)
    assert ids == sorted(ids)


def test_id_at_separates_before_and_after() -> None:
    import time

    before = new_id("evt")
    cursor = id_at("evt", time.time())
    time.sleep(0.002)
    after = new_id("evt")
    assert before <= cursor < after


async def test_database_orders_ids_in_creation_order(database: Database) -> None:
    ids = [new_id("cus") for _ in range(300)]
    # Locale collations compare case-insensitively first: mixed-case ids would misorder.
    collation = ' COLLATE "en-US-x-icu"' if is_postgres() else ""
    async with database.transaction() as session:
        await session.execute(sa.text("CREATE TEMPORARY TABLE id_order (id VARCHAR(40))"))
        await session.execute(
            sa.text("INSERT INTO id_order (id) VALUES (:id)"), [{"id": i} for i in ids[::-1]]
        )
        rows = await session.execute(sa.text(f"SELECT id FROM id_order ORDER BY id{collation}"))
        assert [r.id for r in rows] == ids
