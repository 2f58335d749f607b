"""A crash at any point loses no event: 2,000 events, the worker killed mid-fan-out and
mid-delivery, then a fresh worker finishes; every event reaches the receiver at least
once (duplicates allowed, none skipped)."""

from __future__ import annotations

import asyncio

import pytest

from smartpay.kit.db import Database
from smartpay.webhooks import repository
from tests.conftest import Api
from tests.webhooks.helpers import (
    Clock,
    create_endpoint,
    dispatcher,
    raise_events,
    running_receiver,
)

pytestmark = pytest.mark.settings(webhook_allow_loopback=True)

EVENTS = 2_000


class Crash(Exception):
    """Stands for the process dying at this point."""


async def test_no_event_is_lost_across_crashes(
    api: Api, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    async with running_receiver() as receiver:
        endpoint = await create_endpoint(api, receiver.url)
        receiver.secret = endpoint["secret"]
        event_ids: list[str] = []
        for _ in range(EVENTS // 500):
            event_ids += await raise_events(database, api.keys.merchant_id, 500)

        # Crash 1: delivery rows written, process dies before the fan-out commits.
        real_mark = repository.mark_fanned_out

        async def crash_before_commit(*args: object) -> None:
            raise Crash

        monkeypatch.setattr(repository, "mark_fanned_out", crash_before_commit)
        async with dispatcher(api.app, clock) as worker:
            with pytest.raises(Crash):
                await worker.fan_out()
        monkeypatch.setattr(repository, "mark_fanned_out", real_mark)

        # Crash 2: one fan-out batch commits, then the worker dies mid-delivery, after
        # claiming a batch and sending part of it (no outcome recorded).
        async with dispatcher(api.app, clock) as worker:
            assert await worker.fan_out() == 500
            round_task = asyncio.create_task(worker.deliver_due())
            while len(receiver.received) < 50:
                await asyncio.sleep(0.001)
            round_task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await round_task
        sent_before_crash = len(receiver.received)
        assert 0 < sent_before_crash < EVENTS

        # Restart: a fresh worker with no memory. The crashed claim's lease runs out.
        clock.advance(api.app.state.platform.settings.webhook_lease_seconds + 1)
        async with dispatcher(api.app, clock) as worker:
            for _ in range(100):
                summary = await worker.run_round()
                if not summary["webhook_events_fanned_out"] and not summary["webhooks_attempted"]:
                    break
    assert receiver.rejected == 0
    assert set(receiver.verified) == set(event_ids)  # none skipped
    assert all(count >= 1 for count in receiver.verified.values())
    duplicates = sum(receiver.verified.values()) - EVENTS
    assert duplicates <= sent_before_crash  # only what was in flight at the crash
