"""Online features: incremental windows, the label delay, one code path."""

from __future__ import annotations

import math
import random

import numpy as np

from smartpay.risk.features import (
    FEATURE_NAMES,
    N_FEATURES,
    SECONDS_PER_DAY,
    InMemoryFeatureStore,
    SlidingWindows,
    compute_features,
    features_for,
    replay_features,
)
from smartpay.risk.transactions import Transaction, TransactionTable
from tests.risk.conftest import Replayed

DAY = SECONDS_PER_DAY
COLUMN = {name: index for index, name in enumerate(FEATURE_NAMES)}


def test_sliding_windows_match_a_brute_force_count() -> None:
    rng = random.Random(3)
    widths = (1 * DAY, 7 * DAY, 30 * DAY)
    windows = SlidingWindows(widths)
    events: list[tuple[float, float]] = []
    now = 0.0
    for _ in range(1500):
        now += rng.expovariate(1 / 20_000)
        windows.advance(now)
        if rng.random() < 0.1 and events:
            # A late event (a label arriving out of order) or a correction of an old one.
            time = now - rng.uniform(0, 40 * DAY)
            if rng.random() < 0.5:
                windows.add(time, 2.0)
                events.append((time, 2.0))
            else:
                index = rng.randrange(len(events))
                if windows.adjust(events[index][0], 0.5):
                    events[index] = (events[index][0], events[index][1] + 0.5)
        else:
            value = rng.uniform(1, 100)
            windows.add(now, value)
            events.append((now, value))
        for window, width in enumerate(widths):
            inside = [value for time, value in events if now - width < time]
            assert windows.counts[window] == len(inside)
            assert math.isclose(windows.totals[window], sum(inside), abs_tol=1e-6)


def _tx(number: int, day: float, customer: str, terminal: str, cents: int) -> Transaction:
    return Transaction(f"t{number}", day * DAY, customer, terminal, cents)


def test_terminal_fraud_share_uses_only_labels_older_than_the_delay() -> None:
    store = InMemoryFeatureStore(label_delay_days=7)
    fraud = _tx(1, 0.5, "C1", "T1", 10_00)
    features_for(store, fraud)
    store.record_transaction(fraud)
    # The label comes in early (a live chargeback): the delayed window still ignores it
    # until the transaction is a delay old.
    store.record_label(fraud, is_fraud=True)
    for day, expected_count, expected_share in ((3.0, 0, math.nan), (7.6, 1, 1.0), (9.0, 1, 1.0)):
        row = features_for(store, _tx(2, day, "C2", "T1", 5_00))
        assert row[COLUMN["terminal_count_7d_delayed"]] == expected_count
        share = row[COLUMN["terminal_fraud_share_7d_delayed"]]
        assert (math.isnan(share) and math.isnan(expected_share)) or share == expected_share
    # Out of the 1-day delayed window after 8.5 days, out of the 7-day one after 14.5.
    later = features_for(store, _tx(3, 10.0, "C3", "T1", 5_00))
    assert later[COLUMN["terminal_count_1d_delayed"]] == 0
    assert later[COLUMN["terminal_count_7d_delayed"]] == 1
    assert later[COLUMN["terminal_first_known_fraud_age_days"]] == 9.5


def test_customer_windows_exclude_the_current_transaction_and_known_fraud_leaves_the_profile() -> (
    None
):
    store = InMemoryFeatureStore()
    history = [_tx(i, i * 0.1, "C1", f"T{i}", 10_00 + 100 * (i % 3)) for i in range(30)]
    for transaction in history:
        features_for(store, transaction)
        store.record_transaction(transaction)
    big = _tx(99, 3.05, "C1", "T1", 60_00)
    row = features_for(store, big)
    assert row[COLUMN["customer_count_1d"]] == 9  # days 2.1 to 2.9; `big` is not counted
    assert row[COLUMN["customer_count_30d"]] == 30
    assert math.isclose(row[COLUMN["customer_profile_mean_amount"]], 11.0)
    assert row[COLUMN["customer_amount_zscore"]] > 20
    store.record_transaction(big)
    store.record_label(big, is_fraud=True)
    after = features_for(store, _tx(100, 3.1, "C1", "T2", 10_00))
    assert math.isclose(after[COLUMN["customer_profile_mean_amount"]], 11.0)  # fraud removed
    assert after[COLUMN["customer_known_fraud_count"]] == 1
    assert after[COLUMN["customer_anomaly_count_7d"]] == 1


def test_a_new_customer_and_terminal_have_undefined_history() -> None:
    store = InMemoryFeatureStore()
    row = features_for(store, _tx(1, 5.25, "C1", "T1", 12_34))
    assert row.shape == (N_FEATURES,)
    assert row[COLUMN["amount"]] == 12.34
    assert row[COLUMN["hour_of_day"]] == 6
    assert math.isnan(row[COLUMN["customer_age_days"]])
    assert math.isnan(row[COLUMN["customer_amount_zscore"]])
    assert row[COLUMN["customer_count_30d"]] == 0


def test_features_are_a_pure_function_of_transaction_and_snapshots() -> None:
    store = InMemoryFeatureStore()
    for i in range(5):
        transaction = _tx(i, i, "C1", "T1", 1_00 * (i + 1))
        features_for(store, transaction)
        store.record_transaction(transaction)
    transaction = _tx(9, 6, "C1", "T1", 9_00)
    store.advance_to(transaction.timestamp)
    customer = store.customer("C1", transaction.timestamp)
    terminal = store.terminal("T1", transaction.timestamp)
    first = compute_features(transaction, customer, terminal)
    second = compute_features(transaction, customer, terminal, out=np.zeros(N_FEATURES))
    assert np.array_equal(first, second, equal_nan=True)


def _with_labels(table: TransactionTable, labels: np.ndarray) -> TransactionTable:
    return TransactionTable(
        table.transaction_ids,
        table.timestamps,
        table.customer_ids,
        table.terminal_ids,
        table.amounts_cents,
        labels.astype(np.int8),
    )


def test_no_label_is_used_before_the_delay(small_replayed: Replayed) -> None:
    """Change every label from some moment on: no feature may change within the delay."""
    full = small_replayed.simulation.table
    # The first 45 days are enough: the cut at day 30, the delay, and a week after it.
    rows = int(np.searchsorted(full.timestamps, full.timestamps[0] + 45 * DAY))
    table = full.take(np.arange(rows, dtype=np.int64))
    cut = table.timestamps[0] + 30 * DAY
    changed = table.is_fraud.copy()
    after_cut = table.timestamps >= cut
    changed[after_cut] = 1 - changed[after_cut]
    features = replay_features(_with_labels(table, changed))
    baseline = small_replayed.features[:rows]
    within_delay = table.timestamps < cut + 7 * DAY
    assert np.array_equal(features[within_delay], baseline[within_delay], equal_nan=True)
    # The change does show once the delay has passed, so the test can see a leak.
    assert not np.array_equal(features[~within_delay], baseline[~within_delay], equal_nan=True)


def test_replay_through_an_explicit_store_is_the_default_replay(small_replayed: Replayed) -> None:
    table = small_replayed.simulation.table
    head = table.take(np.arange(5_000, dtype=np.int64))
    store = InMemoryFeatureStore()
    features = replay_features(head, store=store)
    assert np.array_equal(features, small_replayed.features[:5_000], equal_nan=True)
    assert store.now == head.timestamps[-1]
