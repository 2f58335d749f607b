"""Concurrency across two server processes: one Idempotency-Key, 50 simultaneous
requests, exactly one payment and one authorization at the processor."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from smartpay.connectors.sandbox.models import sandbox_records
from smartpay.kit.db import Database
from tests.e2e.conftest import create_merchant_with_cli
from tests.e2e.server import running_server

# Runs on both databases: on PostgreSQL the key's row lock decides, on SQLite the file's
# write lock (BEGIN IMMEDIATE) does.
pytestmark = pytest.mark.slow

CONCURRENT_REQUESTS = 50


def test_fifty_concurrent_requests_with_one_key_make_one_payment(
    tmp_path: Path, live_env: dict[str, str], database_url: str
) -> None:
    env = {**live_env, "SMARTPAY_REDIS_URL": "redis://127.0.0.1:6379/0"}
    secret, _ = create_merchant_with_cli(env, "Concurrency merchant")
    with running_server(env, tmp_path / "server.log", workers=2) as server:
        outcomes = asyncio.run(_hammer(server.base_url, secret))
    statuses = [status for status, _ in outcomes]
    intent_ids = {body.get("id") for status, body in outcomes if status == 200}
    assert set(statuses) <= {200, 409}, statuses
    assert statuses.count(200) >= 1
    assert len(intent_ids) == 1, intent_ids
    counts = asyncio.run(_count_rows(database_url))
    assert counts == {"intents": 1, "authorizations": 1}


async def _hammer(base_url: str, secret: str) -> list[tuple[int, dict[str, object]]]:
    headers = {"Authorization": f"Bearer {secret}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as client:
        method = await client.post(
            "/v1/payment_methods",
            data={
                "type": "card",
                "card[number]": "4242424242424242",
                "card[exp_month]": "12",
                "card[exp_year]": "2031",
                "card[cvc]": "123",
            },
        )
        assert method.status_code == 200, method.text
        body = {
            "amount": "4200",
            "currency": "usd",
            "payment_method": method.json()["id"],
            "confirm": "true",
        }

        async def one() -> tuple[int, dict[str, object]]:
            response = await client.post(
                "/v1/payment_intents", data=body, headers={"Idempotency-Key": "one-key-50"}
            )
            return response.status_code, response.json()

        return await asyncio.gather(*(one() for _ in range(CONCURRENT_REQUESTS)))


async def _count_rows(database_url: str) -> dict[str, int]:
    from smartpay.payments.models import payment_intents

    database = Database(database_url)
    try:
        async with database.transaction() as session:
            intents = (
                await session.execute(sa.select(sa.func.count()).select_from(payment_intents))
            ).scalar_one()
            auths = (
                await session.execute(
                    sa.select(sa.func.count())
                    .select_from(sandbox_records)
                    .where(sandbox_records.c.kind == "authorization")
                )
            ).scalar_one()
        return {"intents": intents, "authorizations": auths}
    finally:
        await database.dispose()
