"""Online features: one code path for the backtest and for live scoring.

Scoring a transaction is three steps, the same in a backtest replay and in the
payment path::

    store.advance_to(tx.timestamp)
    row = compute_features(tx, store.customer(tx.customer_id, now), store.terminal(...))
    store.record_transaction(tx)          # after scoring: a row never sees itself

and, whenever a label becomes known (a chargeback, a confirmed fraud report),
``store.record_label(tx, is_fraud=True)``. A `FeatureStore` keeps incrementally
updated aggregates (sliding-window counts and sums, running moments), never scans
history, and hands out immutable aggregate snapshots, so `compute_features` is a
pure function of (transaction, snapshots).

Labels and the delay. Fraud is learnt late: a transaction's label is known only
``label_delay`` after it (7 days by default, as in the handbook). The terminal fraud
share over w days is computed over the terminal's transactions between
``now - delay - w`` and ``now - delay``, the handbook's "delayed window", and only with
labels the store has been told. The backtest replay (`replay_features`) tells the store
each label exactly ``delay`` after its transaction, never earlier.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from smartpay.risk.transactions import CENTS_PER_UNIT, Transaction, TransactionTable

SECONDS_PER_DAY = 86_400.0
# The handbook's windows: 1, 7 and 30 days, for customers and for terminals.
WINDOW_DAYS = (1, 7, 30)
WINDOW_SECONDS = tuple(days * SECONDS_PER_DAY for days in WINDOW_DAYS)
# The handbook's label delay: a transaction's label is known a week after it.
DEFAULT_LABEL_DELAY_DAYS = 7
# How far back a terminal's known frauds are remembered for the "fraud began" feature:
# the widest window, so a compromise that began up to 30 days before the delayed
# window's end is still visible (the handbook's compromises last 28 days).
KNOWN_FRAUD_MEMORY_SECONDS = 30 * SECONDS_PER_DAY
# The handbook's night: midnight to 6 am.
NIGHT_END_HOUR = 6
# 1970-01-01 was a Thursday; with Monday = 0 that is weekday 3.
_EPOCH_WEEKDAY = 3
_SATURDAY = 5
# An amount this many standard deviations above the customer's profile mean is an
# anomaly: a normally distributed legitimate amount does that once in about 30,000.
ANOMALY_ZSCORE = 4.0
# Anomalies are counted over the last label delay: the ones no label can confirm yet.
ANOMALY_MEMORY_SECONDS = DEFAULT_LABEL_DELAY_DAYS * SECONDS_PER_DAY
# Compact a window's lists once this many expired events sit in front of them.
_COMPACT_AFTER = 256


class SlidingWindows:
    """Counts and sums of timed events over several trailing windows, updated incrementally.

    Events are kept sorted by time. ``advance(reference)`` expires, for each width w,
    the events at or before ``reference - w``; every operation is O(1) amortized (an
    out-of-order insert is a list insert). The windows are (reference - w, reference].
    """

    __slots__ = (
        "counts",
        "heads",
        "next_expiry",
        "reference",
        "times",
        "totals",
        "values",
        "widths",
    )

    def __init__(self, widths: Sequence[float]) -> None:
        # Widest last, so heads[-1] is the oldest live event of any window.
        self.widths = tuple(sorted(widths))
        self.times: list[float] = []
        self.values: list[float] = []
        self.heads = [0] * len(self.widths)
        self.counts = [0] * len(self.widths)
        self.totals = [0.0] * len(self.widths)
        self.reference = -math.inf
        # The earliest reference at which some window loses an event: most calls stop here.
        self.next_expiry = math.inf

    def advance(self, reference: float) -> None:
        if reference <= self.reference:
            return
        self.reference = reference
        if reference < self.next_expiry:
            return
        times, values = self.times, self.values
        size = len(times)
        next_expiry = math.inf
        for window, width in enumerate(self.widths):
            cutoff = reference - width
            head = self.heads[window]
            if head < size and times[head] <= cutoff:
                count, total = self.counts[window], self.totals[window]
                while head < size and times[head] <= cutoff:
                    count -= 1
                    total -= values[head]
                    head += 1
                self.heads[window] = head
                self.counts[window] = count
                # Running float sums drift; an empty window is exactly zero.
                self.totals[window] = total if count else 0.0
            if head < size:
                next_expiry = min(next_expiry, times[head] + width)
        self.next_expiry = next_expiry
        oldest = self.heads[-1]
        if oldest > _COMPACT_AFTER and oldest * 2 > size:
            del times[:oldest], values[:oldest]
            self.heads = [head - oldest for head in self.heads]

    def add(self, time: float, value: float) -> None:
        times = self.times
        if not times or time >= times[-1]:
            index = len(times)
            times.append(time)
            self.values.append(value)
        else:
            index = bisect.bisect_right(times, time)
            times.insert(index, time)
            self.values.insert(index, value)
        for window, width in enumerate(self.widths):
            if time > self.reference - width:
                self.counts[window] += 1
                self.totals[window] += value
                if index == self.heads[window]:  # the window's new oldest event
                    self.next_expiry = min(self.next_expiry, time + width)
            else:
                # Already outside this window: it lands in front of the head.
                self.heads[window] += 1

    def adjust(self, time: float, delta: float) -> bool:
        """Add `delta` to the value of an event at `time`; False if no such event is kept.

        Events with equal times expire together, so any one of them may carry the delta.
        """
        times = self.times
        index = bisect.bisect_left(times, time, lo=self.heads[-1])
        if index >= len(times) or times[index] != time:
            return False
        self.values[index] += delta
        for window in range(len(self.widths)):
            if index >= self.heads[window]:
                self.totals[window] += delta
        return True

    def earliest(self) -> float | None:
        """Time of the oldest event inside the widest window."""
        head = self.heads[-1]
        return self.times[head] if head < len(self.times) else None

    def latest(self) -> float | None:
        head = self.heads[-1]
        return self.times[-1] if head < len(self.times) else None


@dataclass(frozen=True, slots=True)
class CustomerAggregates:
    """What the store knows about a customer just before a transaction."""

    first_seen: float | None
    # Transactions and amounts (major units) over WINDOW_DAYS, the current one excluded.
    counts: tuple[int, ...]
    amount_sums: tuple[float, ...]
    # Moments of every amount so far except those already known to be fraud.
    profile_count: int
    profile_mean: float
    profile_std: float
    known_fraud_count: int  # known frauds in the last KNOWN_FRAUD_MEMORY_SECONDS
    anomaly_count: int  # amounts over ANOMALY_ZSCORE in the last ANOMALY_MEMORY_SECONDS


@dataclass(frozen=True, slots=True)
class TerminalAggregates:
    """What the store knows about a terminal just before a transaction."""

    first_seen: float | None
    # Over the delayed windows (now - delay - w, now - delay]: transactions, known frauds.
    delayed_counts: tuple[int, ...]
    delayed_fraud_counts: tuple[float, ...]
    # Oldest and newest known fraud among transactions of the last
    # KNOWN_FRAUD_MEMORY_SECONDS before now - delay, or later ones already labelled.
    first_known_fraud: float | None
    last_known_fraud: float | None
    # Matured transactions since first_known_fraud, and the share of them known as fraud:
    # a terminal that only sees fraud since some day is compromised.
    count_since_first_fraud: int
    fraud_share_since_first_fraud: float


_ZERO_COUNTS = (0,) * len(WINDOW_DAYS)
_ZERO_SUMS = (0.0,) * len(WINDOW_DAYS)
NEW_CUSTOMER = CustomerAggregates(None, _ZERO_COUNTS, _ZERO_SUMS, 0, math.nan, math.nan, 0, 0)
NEW_TERMINAL = TerminalAggregates(None, _ZERO_COUNTS, _ZERO_SUMS, None, None, 0, math.nan)


class FeatureStore(Protocol):
    """Where online features come from; in memory for backtests, shared storage live."""

    @property
    def label_delay_seconds(self) -> float: ...

    def advance_to(self, now: float) -> None:
        """Move the store's clock forward (never back): expire windows, mature transactions."""

    def customer(self, customer_id: str, now: float) -> CustomerAggregates: ...

    def terminal(self, terminal_id: str, now: float) -> TerminalAggregates: ...

    def record_transaction(self, transaction: Transaction) -> None:
        """Add a scored transaction to the aggregates."""

    def record_label(self, transaction: Transaction, is_fraud: bool) -> None:
        """A label has become known for a transaction recorded earlier."""


class _CustomerState:
    __slots__ = ("anomalies", "first_seen", "known_frauds", "profile", "windows")

    def __init__(self, first_seen: float) -> None:
        self.first_seen = first_seen
        self.windows = SlidingWindows(WINDOW_SECONDS)
        self.anomalies = SlidingWindows((ANOMALY_MEMORY_SECONDS,))
        self.known_frauds = SlidingWindows((KNOWN_FRAUD_MEMORY_SECONDS,))
        # count, sum, sum of squares of the amounts in the profile.
        self.profile = [0, 0.0, 0.0]


class _TerminalState:
    __slots__ = ("first_seen", "known_frauds", "matured")

    def __init__(self, first_seen: float) -> None:
        self.first_seen = first_seen
        # Transactions older than the label delay, value 1 once known to be fraud.
        self.matured = SlidingWindows(WINDOW_SECONDS)
        self.known_frauds = SlidingWindows((KNOWN_FRAUD_MEMORY_SECONDS,))


def _profile_moments(profile: list[float]) -> tuple[float, float]:
    """Mean and standard deviation from (count, sum, sum of squares); NaN when undefined."""
    count, total, squares = profile
    if not count:
        return math.nan, math.nan
    mean = total / count
    if count < 2:
        return mean, math.nan
    return mean, math.sqrt(max(squares / count - mean * mean, 0.0))


class InMemoryFeatureStore:
    """A `FeatureStore` in process memory: dictionaries of per-entity sliding windows."""

    def __init__(self, label_delay_days: float = DEFAULT_LABEL_DELAY_DAYS) -> None:
        self._label_delay = label_delay_days * SECONDS_PER_DAY
        self._customers: dict[str, _CustomerState] = {}
        self._terminals: dict[str, _TerminalState] = {}
        # Transactions waiting to be older than the delay: (time, terminal, id), in time order.
        self._maturing: deque[tuple[float, str, str]] = deque()
        # Fraud labels known before their transaction matured, by transaction id.
        self._early_frauds: set[str] = set()
        self._now = -math.inf

    @property
    def label_delay_seconds(self) -> float:
        return self._label_delay

    @property
    def now(self) -> float:
        return self._now

    def advance_to(self, now: float) -> None:
        if now <= self._now:
            return
        self._now = now
        matured_before = now - self._label_delay
        maturing = self._maturing
        while maturing and maturing[0][0] <= matured_before:
            time, terminal_id, transaction_id = maturing.popleft()
            is_fraud = transaction_id in self._early_frauds
            if is_fraud:
                self._early_frauds.discard(transaction_id)
            terminal = self._terminals[terminal_id]
            terminal.matured.advance(matured_before)
            terminal.matured.add(time, 1.0 if is_fraud else 0.0)

    def customer(self, customer_id: str, now: float) -> CustomerAggregates:
        state = self._customers.get(customer_id)
        if state is None:
            return NEW_CUSTOMER
        windows = state.windows
        windows.advance(now)
        state.known_frauds.advance(now)
        state.anomalies.advance(now)
        mean, std = _profile_moments(state.profile)
        return CustomerAggregates(
            first_seen=state.first_seen,
            counts=tuple(windows.counts),
            amount_sums=tuple(windows.totals),
            profile_count=int(state.profile[0]),
            profile_mean=mean,
            profile_std=std,
            known_fraud_count=state.known_frauds.counts[0],
            anomaly_count=state.anomalies.counts[0],
        )

    def terminal(self, terminal_id: str, now: float) -> TerminalAggregates:
        state = self._terminals.get(terminal_id)
        if state is None:
            return NEW_TERMINAL
        matured_before = now - self._label_delay
        state.matured.advance(matured_before)
        state.known_frauds.advance(matured_before)
        first_fraud = state.known_frauds.earliest()
        count_since = 0
        share_since = math.nan
        if first_fraud is not None:
            matured = state.matured
            start = bisect.bisect_left(matured.times, first_fraud, lo=matured.heads[-1])
            count_since = len(matured.times) - start
            if count_since:
                share_since = min(state.known_frauds.counts[0] / count_since, 1.0)
        return TerminalAggregates(
            first_seen=state.first_seen,
            delayed_counts=tuple(state.matured.counts),
            delayed_fraud_counts=tuple(state.matured.totals),
            first_known_fraud=first_fraud,
            last_known_fraud=state.known_frauds.latest(),
            count_since_first_fraud=count_since,
            fraud_share_since_first_fraud=share_since,
        )

    def record_transaction(self, transaction: Transaction) -> None:
        time = transaction.timestamp
        amount = transaction.amount_cents / CENTS_PER_UNIT
        customer = self._customers.get(transaction.customer_id)
        if customer is None:
            customer = self._customers[transaction.customer_id] = _CustomerState(time)
        customer.windows.add(time, amount)
        profile = customer.profile
        mean, std = _profile_moments(profile)
        if std > 0 and (amount - mean) / std > ANOMALY_ZSCORE:
            customer.anomalies.add(time, 1.0)
        profile[0] += 1
        profile[1] += amount
        profile[2] += amount * amount
        if transaction.terminal_id not in self._terminals:
            self._terminals[transaction.terminal_id] = _TerminalState(time)
        self._maturing.append((time, transaction.terminal_id, transaction.transaction_id))

    def record_label(self, transaction: Transaction, is_fraud: bool) -> None:
        # Unlabelled transactions count as legitimate, so only a fraud label changes anything.
        if not is_fraud:
            return
        time = transaction.timestamp
        customer = self._customers.get(transaction.customer_id)
        if customer is not None:
            amount = transaction.amount_cents / CENTS_PER_UNIT
            # The profile describes the customer's own spending: take the fraud out.
            profile = customer.profile
            if profile[0] > 0:
                profile[0] -= 1
                profile[1] -= amount
                profile[2] = max(profile[2] - amount * amount, 0.0)
            customer.known_frauds.add(time, 1.0)
        terminal = self._terminals.get(transaction.terminal_id)
        if terminal is None:
            return
        terminal.known_frauds.add(time, 1.0)
        if time <= self._now - self._label_delay:
            terminal.matured.adjust(time, 1.0)
        else:
            self._early_frauds.add(transaction.transaction_id)


FEATURE_NAMES: tuple[str, ...] = (
    "amount",
    "customer_profile_mean_amount",
    "customer_amount_zscore",
    "customer_amount_ratio",
    "customer_profile_count",
    *(f"customer_count_{days}d" for days in WINDOW_DAYS),
    *(f"customer_amount_sum_{days}d" for days in WINDOW_DAYS),
    *(f"customer_amount_mean_{days}d" for days in WINDOW_DAYS),
    "customer_amount_ratio_30d",
    "customer_known_fraud_count",
    "customer_amount_mean_1d_ratio",
    "customer_amount_mean_7d_ratio",
    "customer_anomaly_count_7d",
    *(f"terminal_count_{days}d_delayed" for days in WINDOW_DAYS),
    *(f"terminal_fraud_share_{days}d_delayed" for days in WINDOW_DAYS),
    "terminal_known_fraud_count_30d_delayed",
    "terminal_first_known_fraud_age_days",
    "terminal_last_known_fraud_age_days",
    "terminal_count_since_first_known_fraud",
    "terminal_fraud_share_since_first_known_fraud",
    "hour_of_day",
    "weekday",
    "is_weekend",
    "is_night",
    "customer_age_days",
    "terminal_age_days",
)
N_FEATURES = len(FEATURE_NAMES)
_NAN = math.nan


def compute_features(
    transaction: Transaction,
    customer: CustomerAggregates,
    terminal: TerminalAggregates,
    out: npt.NDArray[np.float64] | None = None,
) -> npt.NDArray[np.float64]:
    """The feature row of `transaction` (FEATURE_NAMES order); NaN where undefined.

    Pure: reads only its arguments. `out`, if given, is filled in place and returned.
    """
    row = np.empty(N_FEATURES, dtype=np.float64) if out is None else out
    now = transaction.timestamp
    amount = transaction.amount_cents / CENTS_PER_UNIT
    mean, std = customer.profile_mean, customer.profile_std
    counts, sums = customer.counts, customer.amount_sums
    means = [total / count if count else _NAN for count, total in zip(counts, sums, strict=True)]
    delayed_counts, delayed_frauds = terminal.delayed_counts, terminal.delayed_fraud_counts
    shares = [
        frauds / count if count else _NAN
        for count, frauds in zip(delayed_counts, delayed_frauds, strict=True)
    ]
    day_number, second_of_day = divmod(now, SECONDS_PER_DAY)
    hour = int(second_of_day // 3600)
    weekday = int((day_number + _EPOCH_WEEKDAY) % 7)
    first_fraud, last_fraud = terminal.first_known_fraud, terminal.last_known_fraud
    values = (
        amount,
        mean,
        (amount - mean) / std if std > 0 else _NAN,
        amount / mean if mean > 0 else _NAN,
        customer.profile_count,
        *counts,
        *sums,
        *means,
        amount / means[-1] if means[-1] > 0 else _NAN,
        customer.known_fraud_count,
        means[0] / mean if mean > 0 else _NAN,
        means[1] / mean if mean > 0 else _NAN,
        customer.anomaly_count,
        *delayed_counts,
        *shares,
        delayed_frauds[-1],
        (now - first_fraud) / SECONDS_PER_DAY if first_fraud is not None else _NAN,
        (now - last_fraud) / SECONDS_PER_DAY if last_fraud is not None else _NAN,
        terminal.count_since_first_fraud,
        terminal.fraud_share_since_first_fraud,
        hour,
        weekday,
        1.0 if weekday >= _SATURDAY else 0.0,
        1.0 if hour < NIGHT_END_HOUR else 0.0,
        (now - customer.first_seen) / SECONDS_PER_DAY if customer.first_seen is not None else _NAN,
        (now - terminal.first_seen) / SECONDS_PER_DAY if terminal.first_seen is not None else _NAN,
    )
    row[:] = values
    return row


def features_for(store: FeatureStore, transaction: Transaction) -> npt.NDArray[np.float64]:
    """Advance the store to the transaction and compute its row (does not record it)."""
    now = transaction.timestamp
    store.advance_to(now)
    return compute_features(
        transaction,
        store.customer(transaction.customer_id, now),
        store.terminal(transaction.terminal_id, now),
    )


def replay_features(
    table: TransactionTable,
    wanted: npt.NDArray[np.bool_] | None = None,
    label_delay_days: float = DEFAULT_LABEL_DELAY_DAYS,
    store: FeatureStore | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> npt.NDArray[np.float64]:
    """Replay `table` (sorted by time) through a store; feature rows of the `wanted` rows.

    Each transaction is scored before it is recorded, and its fraud label reaches the
    store only once ``label_delay_days`` have passed since it — the only place labels
    enter, so no row can see a label earlier than the delay allows. Returns an array of
    shape (wanted.sum(), N_FEATURES), rows in table order.
    """
    store = store if store is not None else InMemoryFeatureStore(label_delay_days)
    delay = label_delay_days * SECONDS_PER_DAY
    size = len(table)
    wanted_mask = np.ones(size, dtype=bool) if wanted is None else wanted
    matrix = np.empty((int(wanted_mask.sum()), N_FEATURES), dtype=np.float64)
    times = table.timestamps.tolist()
    amounts = table.amounts_cents.tolist()
    labels = table.is_fraud.tolist()
    wanted_list = wanted_mask.tolist()
    ids, customers, terminals = table.transaction_ids, table.customer_ids, table.terminal_ids
    # Legitimate labels change nothing in the store, so only frauds wait to be revealed.
    unrevealed_frauds: deque[Transaction] = deque()
    progress_every = max(size // 200, 1)
    written = 0
    for index in range(size):
        now = times[index]
        while unrevealed_frauds and unrevealed_frauds[0].timestamp + delay <= now:
            store.record_label(unrevealed_frauds.popleft(), True)
        transaction = Transaction(
            ids[index], now, customers[index], terminals[index], amounts[index]
        )
        store.advance_to(now)
        if wanted_list[index]:
            compute_features(
                transaction,
                store.customer(transaction.customer_id, now),
                store.terminal(transaction.terminal_id, now),
                out=matrix[written],
            )
            written += 1
        store.record_transaction(transaction)
        if labels[index]:
            unrevealed_frauds.append(transaction)
        if on_progress is not None and index % progress_every == 0:
            on_progress(index, size)
    if on_progress is not None:
        on_progress(size, size)
    return matrix
