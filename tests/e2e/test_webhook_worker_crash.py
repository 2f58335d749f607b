"""kill -9 of a real `smartpay worker` process during a burst of 10,000 events, then a
restart: every event reaches a real receiver (verified with the stripe SDK) at least
once, and the delivery log shows every delivery delivered, none skipped."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from smartpay.kit.db import Database
from smartpay.webhooks.models import DeliveryStatus, webhook_deliveries
from tests.card_scan import card_data_in_text
from tests.conftest import Api
from tests.e2e.server import BIN
from tests.webhooks.helpers import create_endpoint, raise_events, running_receiver

pytestmark = [pytest.mark.slow, pytest.mark.settings(webhook_allow_loopback=True)]

EVENTS = 10_000
BATCH = 500  # events per outbox transaction while the burst runs
KILL_AFTER_RECEIVED = 1_500  # deliveries the receiver has seen when the worker is killed
# Short, so the deliveries the killed worker had claimed come due again within the test.
LEASE_SECONDS = 3
DRAIN_TIMEOUT_SECONDS = 240


def _start_worker(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [str(BIN / "smartpay"), "worker"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _stop(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
        process.wait(timeout=30)


async def _delivery_statuses(database: Database) -> dict[str, int]:
    query = sa.select(webhook_deliveries.c.status, sa.func.count()).group_by(
        webhook_deliveries.c.status
    )
    async with database.transaction() as session:
        return {status: count for status, count in (await session.execute(query)).all()}


async def test_kill_minus_nine_of_the_worker_mid_burst_loses_no_event(
    live_env: dict[str, str], api: Api, database: Database, tmp_path: Path
) -> None:
    env = {
        **live_env,
        "SMARTPAY_WEBHOOK_ALLOW_LOOPBACK": "true",
        "SMARTPAY_WEBHOOK_LEASE_SECONDS": str(LEASE_SECONDS),
        "SMARTPAY_WEBHOOK_POLL_INTERVAL_SECONDS": "0.05",
    }
    logs = [tmp_path / "worker-1.log", tmp_path / "worker-2.log"]
    async with running_receiver() as receiver:
        endpoint = await create_endpoint(api, receiver.url)
        receiver.secret = endpoint["secret"]
        event_ids: list[str] = []
        worker = _start_worker(env, logs[0])
        try:
            # The burst: events keep arriving in the outbox while the worker delivers,
            # and keep arriving after it was killed.
            killed_at: int | None = None
            while len(event_ids) < EVENTS:
                event_ids += await raise_events(database, api.keys.merchant_id, BATCH)
                await asyncio.sleep(0.05)
                if killed_at is None and len(receiver.received) >= KILL_AFTER_RECEIVED:
                    _stop(worker, signal.SIGKILL)
                    killed_at = len(receiver.received)
            deadline = time.monotonic() + DRAIN_TIMEOUT_SECONDS
            while killed_at is None:  # the burst outran the worker: kill it mid-drain
                assert time.monotonic() < deadline, "the worker delivered nothing"
                await asyncio.sleep(0.05)
                if len(receiver.received) >= KILL_AFTER_RECEIVED:
                    _stop(worker, signal.SIGKILL)
                    killed_at = len(receiver.received)
            assert worker.returncode == -signal.SIGKILL
            assert killed_at < EVENTS, "the kill landed after the burst was delivered"

            worker = _start_worker(env, logs[1])
            deadline = time.monotonic() + DRAIN_TIMEOUT_SECONDS
            while set(receiver.verified) != set(event_ids):
                assert worker.poll() is None, logs[1].read_text(errors="replace")[-3000:]
                assert time.monotonic() < deadline, (
                    f"{len(receiver.verified)} of {EVENTS} events delivered"
                )
                await asyncio.sleep(0.2)
            # Let the restarted worker record the last outcomes before reading the log.
            deadline = time.monotonic() + 30
            while (await _delivery_statuses(database)).keys() != {DeliveryStatus.DELIVERED}:
                assert time.monotonic() < deadline, await _delivery_statuses(database)
                await asyncio.sleep(0.2)
        finally:
            _stop(worker, signal.SIGTERM)

    assert receiver.rejected == 0  # every delivery verified by stripe.Webhook.construct_event
    assert set(receiver.verified) == set(event_ids)  # none skipped
    assert await _delivery_statuses(database) == {DeliveryStatus.DELIVERED: EVENTS}
    # Duplicates come only from what the killed worker had in flight or claimed.
    duplicates = sum(receiver.verified.values()) - EVENTS
    assert 0 <= duplicates <= killed_at
    for log in logs:
        text = log.read_text(errors="replace")
        assert "Traceback" not in text, text[-3000:]
        assert card_data_in_text(text) == []
