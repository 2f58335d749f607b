"""The Redis store (for a fleet) keeps exactly what the in-memory one does, and live
routing works on it. Uses the Redis at 127.0.0.1:6379 that `make test` starts, under a
key prefix of its own that the test deletes."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis

from smartpay.routing.bandit import Observation, OutcomeKind
from smartpay.routing.breaker import BreakerPolicy, BreakerState
from smartpay.routing.store import MemoryRoutingStore, Outcome, RedisRoutingStore
from tests.api.helpers import pay
from tests.conftest import Api

REDIS_URL = "redis://127.0.0.1:6379/0"
SEGMENT = "visa:DE:medium:eur"
POLICY = BreakerPolicy(window_seconds=60, min_calls=4, cooldown_seconds=10)


@pytest.fixture
async def client() -> AsyncIterator[redis.Redis]:
    connection = redis.Redis.from_url(REDIS_URL)
    try:
        yield connection
    finally:
        await connection.aclose()


async def _drop(connection: redis.Redis, prefix: str) -> None:
    keys = [key async for key in connection.scan_iter(f"{prefix}:*")]
    if keys:
        await connection.delete(*keys)


async def test_redis_store_matches_memory_store(client: redis.Redis) -> None:
    prefix = f"smartpay-test:{secrets.token_hex(4)}"
    memory = MemoryRoutingStore(100.0, POLICY)
    store = RedisRoutingStore(client, 100.0, POLICY, prefix=prefix)
    kinds = [OutcomeKind.APPROVED, OutcomeKind.SOFT_DECLINE, OutcomeKind.CARD_DECLINE] * 5
    kinds += [OutcomeKind.TECHNICAL] * 12 + [OutcomeKind.APPROVED] * 3
    seen: list[BreakerState] = []
    try:
        for index, kind in enumerate(kinds):
            now = 1_000.0 + index * 7.0
            expected = memory.record_now("p", SEGMENT, Observation(kind), 40.0 + index, now)
            outcome = Outcome("acct_1", "p", SEGMENT, Observation(kind), 40.0 + index, now)
            got = [change.transition for change in await store.record(outcome)]
            assert [t.state for t in got] == [t.state for t in expected]
            seen += [t.state for t in got]
        snapshot = await store.load(None, ["p"], SEGMENT)
        assert set(snapshot.stats) == set(memory.stats)
        for key, arm in memory.stats.items():
            stored = snapshot.stats[key]
            assert stored.successes == pytest.approx(arm.successes, rel=1e-9)
            assert stored.failures == pytest.approx(arm.failures, rel=1e-9)
            assert stored.latency_ms == pytest.approx(arm.latency_ms, rel=1e-9)
        assert snapshot.breakers["p"] == memory.breakers["p"]
        assert seen[:2] == [BreakerState.OPEN, BreakerState.HALF_OPEN]
    finally:
        await _drop(client, prefix)


@pytest.mark.settings(
    processors="a,b",
    sandbox_profiles=json.dumps({"a": {}, "b": {}}),
    routing_store="redis",
    redis_url=REDIS_URL,
)
async def test_payments_learn_into_redis(api: Api, client: redis.Redis) -> None:
    store = api.app.state.routing.store  # type: ignore[attr-defined]
    assert isinstance(store, RedisRoutingStore)
    store.prefix = f"smartpay-test:{secrets.token_hex(4)}"
    try:
        for _ in range(3):
            assert (await pay(api)).json()["status"] == "succeeded"
        snapshot = await store.load(None, ["a", "b"], "visa:US:medium:usd")
        pooled = [snapshot.arm(name, "*") for name in ("a", "b")]
        assert sum(arm.successes for arm in pooled if arm is not None) == pytest.approx(
            3.0, abs=0.01
        )
    finally:
        await _drop(client, store.prefix)
