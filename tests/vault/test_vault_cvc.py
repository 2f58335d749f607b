from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as redis

from smartpay.vault.crypto import VaultIntegrityError
from smartpay.vault.cvc import MemoryCvcStore, RedisCvcStore
from smartpay.vault.keys import LocalKeyring

REDIS_URL = os.environ.get("SMARTPAY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
TTL = 600


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_memory_take_returns_once() -> None:
    store = MemoryCvcStore()
    await store.put("cvc:pm_1", "123", TTL)
    assert await store.take("cvc:pm_1") == "123"
    assert await store.take("cvc:pm_1") is None
    assert await store.take("cvc:pm_unknown") is None


async def test_memory_concurrent_takes_get_it_once() -> None:
    store = MemoryCvcStore()
    await store.put("k", "123", TTL)
    results = await asyncio.gather(*(store.take("k") for _ in range(10)))
    assert results.count("123") == 1
    assert results.count(None) == 9


async def test_memory_expiry_and_purge() -> None:
    clock = FakeClock()
    store = MemoryCvcStore(clock)
    await store.put("short", "111", 10)
    await store.put("long", "222", 100)
    clock.now += 10
    assert await store.take("short") is None
    assert len(store) == 1  # the expired entry was purged on access
    clock.now += 89
    assert await store.take("long") == "222"


async def test_memory_put_again_replaces_value_and_expiry() -> None:
    clock = FakeClock()
    store = MemoryCvcStore(clock)
    await store.put("k", "111", 10)
    await store.put("k", "222", 100)
    clock.now += 50
    assert await store.take("k") == "222"


async def test_memory_heap_does_not_grow_without_bound() -> None:
    store = MemoryCvcStore(FakeClock())
    for i in range(1000):
        await store.put(f"k{i}", "123", TTL)
        await store.take(f"k{i}")
    assert len(store) == 0
    assert len(store._expiries) < 100


async def test_ttl_must_be_positive() -> None:
    with pytest.raises(ValueError):
        await MemoryCvcStore().put("k", "123", 0)


@pytest.fixture
async def redis_client() -> AsyncIterator[redis.Redis]:
    client: redis.Redis = redis.Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (redis.ConnectionError, OSError):
        await client.aclose()
        pytest.fail(f"no Redis at {REDIS_URL}: start it (make services) — these tests must run")
    yield client
    await client.aclose()


@pytest.fixture
async def redis_store(redis_client: redis.Redis, tmp_path: Path) -> AsyncIterator[RedisCvcStore]:
    # A prefix of our own: other test runs may share this Redis.
    prefix = f"smartpay-test:{secrets.token_hex(6)}:"
    store = RedisCvcStore(REDIS_URL, LocalKeyring(tmp_path / "keyring.json"), prefix=prefix)
    yield store
    await store.close()
    keys = [key async for key in redis_client.scan_iter(match=prefix + "*")]
    if keys:
        await redis_client.delete(*keys)


async def test_redis_take_returns_once(redis_store: RedisCvcStore) -> None:
    await redis_store.put("cvc:pm_1", "7373", TTL)
    assert await redis_store.take("cvc:pm_1") == "7373"
    assert await redis_store.take("cvc:pm_1") is None
    assert await redis_store.take("cvc:pm_unknown") is None


async def test_redis_holds_only_ciphertext_with_a_ttl(
    redis_store: RedisCvcStore, redis_client: redis.Redis
) -> None:
    await redis_store.put("cvc:pm_1", "7373", TTL)
    key = redis_store.redis_key("cvc:pm_1")
    raw = await redis_client.get(key)
    assert raw is not None
    assert raw != b"7373"
    assert b'"7373"' not in raw
    document = json.loads(raw)
    for field in document.values():
        assert b"7373" not in base64.b64decode(field) if field != "v1" else True
    assert 0 < await redis_client.ttl(key) <= TTL


async def test_redis_concurrent_takes_get_it_once(redis_store: RedisCvcStore) -> None:
    await redis_store.put("k", "123", TTL)
    results = await asyncio.gather(*(redis_store.take("k") for _ in range(10)))
    assert results.count("123") == 1


async def test_redis_ttl_expires(redis_store: RedisCvcStore) -> None:
    await redis_store.put("k", "123", 1)
    await asyncio.sleep(1.5)
    assert await redis_store.take("k") is None


async def test_redis_value_moved_to_another_key_fails(
    redis_store: RedisCvcStore, redis_client: redis.Redis
) -> None:
    await redis_store.put("cvc:pm_1", "123", TTL)
    raw = await redis_client.get(redis_store.redis_key("cvc:pm_1"))
    assert raw is not None
    await redis_client.set(redis_store.redis_key("cvc:pm_2"), raw, ex=TTL)
    with pytest.raises(VaultIntegrityError):
        await redis_store.take("cvc:pm_2")
