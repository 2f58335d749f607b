"""Both sessions stores behave the same: create, load, compare-and-set save, expiry told
apart from absence. Redis runs at 127.0.0.1:6379 (started by scripts/services.sh)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest

from smartpay.chat import store as chat_store
from smartpay.chat.store import (
    ChatSessionConflict,
    ChatSessionExpired,
    ChatSessionRecord,
    ChatSessionStore,
    RedisChatStore,
    SqlChatStore,
)
from smartpay.kit.clock import now
from smartpay.kit.db import Database

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(params=["sql", "redis"])
async def store(
    request: pytest.FixtureRequest, database: Database
) -> AsyncIterator[ChatSessionStore]:
    chosen: ChatSessionStore
    if request.param == "sql":
        chosen = SqlChatStore(database)
    else:
        chosen = RedisChatStore(REDIS_URL, prefix=f"smartpay-test:{secrets.token_hex(4)}:")
    yield chosen
    await chosen.close()


def _record(ttl: int = 3600) -> ChatSessionRecord:
    created = now()
    return ChatSessionRecord(
        id=f"chat_{secrets.token_hex(8)}",
        merchant_id="acct_1",
        status="collecting",
        current_field="name",
        amount=2000,
        currency="usd",
        description=None,
        state={"name": None},
        version=0,
        created=created,
        updated=created,
        expires_at=created + ttl,
    )


async def test_round_trip_and_compare_and_set(store: ChatSessionStore) -> None:
    record = _record()
    await store.create(record)
    loaded = await store.load(record.id)
    assert loaded is not None and loaded.state == {"name": None}
    stale = await store.load(record.id)
    assert stale is not None
    loaded.state = {"name": "Ono"}
    await store.save(loaded)
    assert loaded.version == 1
    again = await store.load(record.id)
    assert again is not None and again.state == {"name": "Ono"} and again.version == 1
    with pytest.raises(ChatSessionConflict):
        await store.save(stale)
    assert await store.load("chat_never") is None


async def test_expired_is_not_the_same_as_absent(
    store: ChatSessionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = _record()
    await store.create(record)
    monkeypatch.setattr(chat_store, "now", lambda: record.expires_at + 5)
    with pytest.raises(ChatSessionExpired):
        await store.load(record.id)


async def test_redis_uses_native_expiry() -> None:
    store = RedisChatStore(REDIS_URL, prefix=f"smartpay-test:{secrets.token_hex(4)}:")
    try:
        record = _record(ttl=120)
        await store.create(record)
        ttl = await store._client.ttl(store._key(record.id))
        assert 0 < ttl <= 120
        marker_ttl = await store._client.ttl(store._marker(record.id))
        assert marker_ttl > 120
        await store._client.delete(store._key(record.id))  # what Redis does at expiry
        with pytest.raises(ChatSessionExpired):
            await store.load(record.id)
    finally:
        await store.close()
