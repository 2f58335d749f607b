import asyncio

import pytest

from smartpay.errors import IdempotencyConflict, IdempotencyError
from smartpay.kit import idempotency
from smartpay.kit.db import Database


async def test_claim_complete_replay_and_mismatch(database: Database) -> None:
    args = {"merchant_id": "acct_1", "key": "k1", "now": 1000, "ttl_seconds": 86400}
    async with database.transaction() as session:
        assert await idempotency.claim(session, fingerprint="f1", **args) is None
        await idempotency.complete(session, merchant_id="acct_1", key="k1", status=200, body=b"{}")
    async with database.transaction() as session:
        stored = await idempotency.claim(session, fingerprint="f1", **args)
        assert stored == idempotency.StoredResponse(200, b"{}")
        with pytest.raises(IdempotencyError):
            await idempotency.claim(session, fingerprint="other", **args)


async def test_in_progress_key_conflicts_and_other_merchant_is_separate(database: Database) -> None:
    args = {"key": "k2", "fingerprint": "f", "now": 1000, "ttl_seconds": 86400}
    async with database.transaction() as session:
        assert await idempotency.claim(session, merchant_id="acct_1", **args) is None
    async with database.transaction() as session:
        with pytest.raises(IdempotencyConflict):
            await idempotency.claim(session, merchant_id="acct_1", **args)
        assert await idempotency.claim(session, merchant_id="acct_2", **args) is None


async def test_expired_key_can_be_reused(database: Database) -> None:
    async with database.transaction() as session:
        await idempotency.claim(
            session, merchant_id="m", key="k", fingerprint="a", now=0, ttl_seconds=10
        )
    async with database.transaction() as session:
        assert (
            await idempotency.claim(
                session, merchant_id="m", key="k", fingerprint="b", now=100, ttl_seconds=10
            )
            is None
        )


async def test_concurrent_claims_let_exactly_one_through(database: Database) -> None:
    async def claim_once() -> str:
        try:
            async with database.transaction() as session:
                result = await idempotency.claim(
                    session, merchant_id="m", key="race", fingerprint="f", now=1, ttl_seconds=99
                )
                if result is None:
                    await asyncio.sleep(0.05)  # hold the claim while the others arrive
                    await idempotency.complete(
                        session, merchant_id="m", key="race", status=200, body=b"ok"
                    )
                    return "executed"
                return "replayed"
        except IdempotencyConflict:
            return "conflict"

    outcomes = await asyncio.gather(*(claim_once() for _ in range(10)))
    assert outcomes.count("executed") == 1
    assert outcomes.count("replayed") == 9
