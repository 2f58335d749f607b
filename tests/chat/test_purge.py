"""Expired sessions lose what was typed in them without anyone coming back: the worker's
chat job empties the state (sealed card number, name, history) of every session past its
TTL, once, and deletes sessions past the notice period; a save that lands after expiry
keeps nothing either."""

from __future__ import annotations

from typing import Any

import pytest

from smartpay import worker
from smartpay.chat import repository
from smartpay.chat import store as chat_store
from smartpay.chat import tasks as chat_tasks
from smartpay.chat.store import EXPIRED_NOTICE_SECONDS, RedisChatStore, SqlChatStore
from smartpay.kit.clock import now
from smartpay.kit.db import Database
from smartpay.platform import Platform
from tests.chat.helpers import open_session, say
from tests.conftest import Api


def _platform(api: Api) -> Platform:
    platform: Platform = api.app.state.platform  # type: ignore[attr-defined]
    return platform


async def _row(database: Database, session_id: str) -> Any:
    async with database.transaction() as session:
        return await repository.get(session, session_id)


async def _move_expiry(database: Database, session_id: str, expires_at: int) -> None:
    async with database.transaction() as session:
        row = await repository.get(session, session_id)
        assert row is not None
        await repository.update_if_version(
            session,
            session_id,
            row.version,
            expires_at=expires_at,
            # last written before it expired, as a session abandoned mid-way
            updated=min(row.updated, expires_at - 1),
        )


async def _half_typed_session(api: Api) -> dict[str, Any]:
    session = await open_session(api)
    reply = await say(api, session["id"], "John Smith, 4242 4242 4242 4242, 12/29")
    assert reply.json()["currentField"] == "cvv"
    return session


async def test_worker_job_purges_card_data_of_expired_sessions_once(
    api: Api, database: Database
) -> None:
    expired = await _half_typed_session(api)
    live = await _half_typed_session(api)
    at = expired["expires_at"]
    await _move_expiry(database, live["id"], at + 600)
    before = await _row(database, expired["id"])
    assert before.state["sealed_pan"] is not None and before.state["name"] == "John Smith"
    platform = _platform(api)

    assert await chat_tasks.run_round(platform, now=at - 1) == {"chat_sessions_purged": 0}
    assert await chat_tasks.run_round(platform, now=at) == {"chat_sessions_purged": 1}
    after = await _row(database, expired["id"])
    assert after.state == {} and after.updated == at
    assert after.status == "collecting"  # the row stays, so a late visit is told it expired
    assert (await _row(database, live["id"])).state["sealed_pan"] is not None
    # Purged once: later rounds leave it alone, and the live one goes when it is due.
    assert await chat_tasks.run_round(platform, now=at + 60) == {"chat_sessions_purged": 0}
    assert await chat_tasks.run_round(platform, now=at + 600) == {"chat_sessions_purged": 1}
    assert (await _row(database, live["id"])).state == {}


async def test_purged_session_still_says_it_expired(
    api: Api, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = await _half_typed_session(api)
    await chat_tasks.run_round(_platform(api), now=session["expires_at"])
    monkeypatch.setattr(chat_store, "now", lambda: session["expires_at"] + 1)
    response = await say(api, session["id"], "737")
    assert response.status_code == 410
    assert response.json()["error"]["code"] == "chat_session_expired"
    assert (await _row(database, session["id"])).state == {}


async def test_worker_round_runs_the_chat_purge(api: Api, database: Database) -> None:
    session = await _half_typed_session(api)
    # Expired a second ago (the TTL setting cannot go below a minute).
    await _move_expiry(database, session["id"], now() - 1)
    summary = await worker.run_once(_platform(api), webhooks=False)
    assert summary["chat_sessions_purged"] == 1
    assert (await _row(database, session["id"])).state == {}


async def test_sessions_past_the_notice_period_are_deleted(api: Api, database: Database) -> None:
    session = await _half_typed_session(api)
    platform = _platform(api)
    await chat_tasks.run_round(platform, now=session["expires_at"] + EXPIRED_NOTICE_SECONDS)
    assert await _row(database, session["id"]) is not None
    await chat_tasks.run_round(platform, now=session["expires_at"] + EXPIRED_NOTICE_SECONDS + 1)
    assert await _row(database, session["id"]) is None
    assert (await say(api, session["id"], "737")).status_code == 404


async def test_a_save_that_lands_after_expiry_keeps_nothing(
    api: Api, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = await _half_typed_session(api)
    store = SqlChatStore(database)
    record = await store.load(session["id"])  # loaded while still valid
    assert record is not None and record.state["sealed_pan"] is not None
    monkeypatch.setattr(chat_store, "now", lambda: session["expires_at"])
    await store.save(record)
    row = await _row(database, session["id"])
    assert row.state == {} and row.version == record.version
    # and the purge job has nothing left to do for it
    purged = await chat_tasks.run_round(_platform(api), now=session["expires_at"] + 1)
    assert purged == {"chat_sessions_purged": 0}


@pytest.mark.settings(chat_store="redis", redis_url="redis://127.0.0.1:6379/0")
async def test_with_the_redis_store_the_job_leaves_expiry_to_redis(api: Api) -> None:
    session = await _half_typed_session(api)
    store = api.app.state.chat.store  # type: ignore[attr-defined]
    assert isinstance(store, RedisChatStore)
    ttl = await store._client.ttl(store._key(session["id"]))
    assert 0 < ttl <= session["expires_at"] - session["created"]  # Redis drops it itself
    summary = await chat_tasks.run_round(_platform(api), now=session["expires_at"])
    assert summary == {"chat_sessions_purged": 0}
