"""Live feature state: windowed counters, the terminal view, SQL, Redis and memory stores."""

from __future__ import annotations

import math
import uuid

import pytest

from smartpay.kit.db import Database
from smartpay.risk.features import SECONDS_PER_DAY
from smartpay.risk.live import (
    EntityState,
    LiveFeatureStore,
    LiveSnapshot,
    MemoryLiveFeatureStore,
    RedisLiveFeatureStore,
    SqlLiveFeatureStore,
    terminal_aggregates,
    terminal_day_range,
)
from smartpay.risk.service import merchant_first_seen_to_write

HOUR = 3600.0
REDIS_URL = "redis://127.0.0.1:6379/0"


def test_windows_count_recent_payments_and_forget_old_ones() -> None:
    start = 1_700_000_000.0
    state = EntityState.new(start)
    for minute in range(5):
        state.record(start + minute * 60, 10.0, peer=None)
    count, total = state.velocity("1h", start + 300)
    assert count == pytest.approx(5) and total == pytest.approx(50)
    assert state.velocity("1h", start + 3 * HOUR) == (0.0, 0.0)
    count_day, _ = state.velocity("24h", start + 3 * HOUR)
    assert 0 < count_day <= 5
    assert state.velocity("30d", start + 40 * SECONDS_PER_DAY) == (0.0, 0.0)


def test_profile_moments_peers_and_fraud() -> None:
    state = EntityState.new(0.0)
    for amount, peer in ((10.0, "a"), (20.0, "b"), (30.0, "a")):
        state.record(100.0, amount, peer)
    count, mean, std = state.moments()
    assert count == 3 and mean == pytest.approx(20.0)
    assert std == pytest.approx(math.sqrt(200 / 3))
    assert state.peers == ["a", "b"]
    state.record_fraud(100.0, 30.0)
    count, mean, _ = state.moments()
    assert count == 2 and mean == pytest.approx(15.0)
    assert state.customer_aggregates(200.0).known_fraud_count == 1
    again = EntityState.from_json(state.to_json())
    assert again.to_json() == state.to_json()


def test_terminal_view_counts_only_matured_days() -> None:
    delay = 7 * SECONDS_PER_DAY
    today = 20_000
    days = {today - 20: (100, 5), today - 9: (50, 0), today - 3: (40, 4)}
    view = terminal_aggregates(days, today * SECONDS_PER_DAY + 10, delay)
    # Day today-3 is younger than the delay: neither its payments nor its frauds count.
    assert view.delayed_counts == (0, 50, 150)
    assert view.delayed_fraud_counts == (0.0, 0.0, 5.0)
    assert view.first_known_fraud == (today - 20) * SECONDS_PER_DAY
    assert view.count_since_first_fraud == 150


def test_merchant_age_keeps_growing_past_the_days_read() -> None:
    delay = 7 * SECONDS_PER_DAY
    first_seen = 19_000 * SECONDS_PER_DAY + 5 * HOUR
    now = first_seen + 200 * SECONDS_PER_DAY
    first_read, _ = terminal_day_range(now, delay)
    recent = {first_read + 1: (10, 0)}
    view = terminal_aggregates(recent, now, delay, first_seen)
    assert view.first_seen == first_seen
    # A merchant idle for longer than the days read still has its age.
    assert terminal_aggregates({}, now, delay, first_seen).first_seen == first_seen
    # Without a stored time (state copied in without one) the oldest day read stands in.
    assert terminal_aggregates(recent, now, delay).first_seen == (first_read + 1) * SECONDS_PER_DAY


def test_first_seen_is_written_once() -> None:
    known = LiveSnapshot(states={}, terminal_days={}, terminal_first_seen=50.0)
    assert merchant_first_seen_to_write(known, 1000.0) is None
    first_payment = LiveSnapshot(states={}, terminal_days={})
    assert merchant_first_seen_to_write(first_payment, 1000.0) == 1000.0
    copied_in = LiveSnapshot(states={}, terminal_days={3: (1, 0), 5: (2, 0)})
    assert merchant_first_seen_to_write(copied_in, 10 * SECONDS_PER_DAY) == 3 * SECONDS_PER_DAY


async def _round_trip(store: LiveFeatureStore, database: Database) -> None:
    merchant = f"acct_{uuid.uuid4().hex[:10]}"
    key = f"card:{uuid.uuid4().hex}:usd"
    state = EntityState.new(1000.0)
    state.record(1000.0, 12.5, "peer")
    async with database.transaction() as session:
        before = await store.read(session, merchant, [key], (0, 5), for_update=True)
        assert before.terminal_first_seen is None and before.terminal_days == {}
        await store.write(
            session, merchant, {key: state}, day=3, shard=1, transactions=1, frauds=0,
            updated_at=1000.0, first_seen=1000.25,
        )  # fmt: skip
        await store.write(
            session, merchant, {}, day=3, shard=2, transactions=2, frauds=1, updated_at=1000.0,
            first_seen=2000.0,  # a concurrent "first" payment: the stored time stays
        )  # fmt: skip
    async with database.transaction() as session:
        snapshot = await store.read(
            session, merchant, [key, "card:none:usd"], (0, 5), for_update=True
        )
        # Outside the days read, the merchant's first-seen time is still read.
        far_later = await store.read(session, merchant, [], (100, 140), for_update=False)
    assert list(snapshot.states) == [key]
    assert snapshot.states[key].to_json() == state.to_json()
    assert snapshot.terminal_days == {3: (3, 1)}
    assert snapshot.terminal_first_seen == 1000.25
    assert far_later.terminal_days == {} and far_later.terminal_first_seen == 1000.25


async def test_sql_store_round_trip(database: Database) -> None:
    await _round_trip(SqlLiveFeatureStore(), database)


async def test_memory_store_round_trip(database: Database) -> None:
    await _round_trip(MemoryLiveFeatureStore(), database)


async def test_redis_store_round_trip(database: Database) -> None:
    store = RedisLiveFeatureStore(REDIS_URL)
    try:
        await _round_trip(store, database)
    finally:
        await store.close()
