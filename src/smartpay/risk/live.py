"""Live feature state for the payment path, behind one interface, in SQL or Redis.

The backtest's `features.InMemoryFeatureStore` keeps every event of a replay; a live
store must stay small and shared by every API process, so it keeps, per entity (a card
fingerprint, a customer, an e-mail, an IP address, a device, each in one currency),
fixed-size counters as one small JSON document (`EntityState`), and per merchant (the
handbook's terminal) counts of transactions and known frauds per UTC day and the time of
its first payment, written once (its age keeps growing after its oldest day counter
leaves the range a payment reads). They are updated incrementally on every payment and
every label; nothing rescans payments.

Windows are approximated the way rate limiters do (a "sliding window counter"): each
window of width w keeps the counts of the current and the previous aligned bucket of
width w, and the window's count at time t is the current bucket's plus the previous
bucket's weighted by the share of it still inside (t - w, t]. Exact when events are
spread evenly across a bucket; never off by more than the previous bucket's count.

The live path turns these counters into the same `CustomerAggregates` and
`TerminalAggregates` the backtest produces and computes the model's row with the same
`features.compute_features`: one feature function for live scoring and backtests.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from smartpay.kit.db import Session
from smartpay.risk import repository
from smartpay.risk.facts import VELOCITY_WINDOW_SECONDS, VELOCITY_WINDOWS
from smartpay.risk.features import (
    ANOMALY_MEMORY_SECONDS,
    ANOMALY_ZSCORE,
    KNOWN_FRAUD_MEMORY_SECONDS,
    SECONDS_PER_DAY,
    WINDOW_DAYS,
    CustomerAggregates,
    TerminalAggregates,
)

# Peers (cards of a customer, customers of a card) remembered per entity: a card used by
# more than this many customers is already as suspicious as the feature can say.
MAX_PEERS = 32
# Per-merchant day counters are split over this many rows so that concurrent payments
# of one merchant seldom update the same row (each takes a row lock until commit).
TERMINAL_DAY_SHARDS = 8
# Entity state not touched for longer than the widest window is worthless: Redis expires it.
STATE_TTL_SECONDS = int(KNOWN_FRAUD_MEMORY_SECONDS + 2 * SECONDS_PER_DAY)
_MODEL_WINDOWS = ("24h", "7d", "30d")  # the model's 1, 7 and 30 days
assert tuple(VELOCITY_WINDOW_SECONDS[w] / SECONDS_PER_DAY for w in _MODEL_WINDOWS) == tuple(
    float(days) for days in WINDOW_DAYS
)


def entity_key(kind: str, value: str, currency: str) -> str:
    """The state key of an entity: raw e-mails and IPs never reach the feature tables."""
    digest = hashlib.sha256(f"{kind}\x00{value}".encode()).hexdigest()[:40]
    return f"{kind}:{digest}:{currency}"


def peer_id(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:16]


def _bucket(time: float, width: float) -> float:
    return math.floor(time / width) * width


def _window_value(counter: list[float], time: float, width: float) -> tuple[float, float]:
    """(count, sum) of a [bucket start, count, sum, previous count, previous sum] counter."""
    start, count, total, previous_count, previous_total = counter
    bucket = _bucket(time, width)
    if bucket == start:
        pass
    elif bucket == start + width:
        previous_count, previous_total, count, total = count, total, 0.0, 0.0
    else:
        return 0.0, 0.0
    remaining = 1.0 - (time - bucket) / width
    return count + previous_count * remaining, total + previous_total * remaining


def _window_add(counter: list[float], time: float, width: float, value: float) -> None:
    bucket = _bucket(time, width)
    start = counter[0]
    if bucket == start + width:
        counter[:] = [bucket, 0.0, 0.0, counter[1], counter[2]]
    elif bucket > start:
        counter[:] = [bucket, 0.0, 0.0, 0.0, 0.0]
    elif bucket < start:
        # Late event (clock skew between processes): count it in the current bucket.
        pass
    counter[1] += 1.0
    counter[2] += value


def _window_remove(counter: list[float], time: float, width: float, value: float) -> None:
    """Take back an event `_window_add` counted at `time`, if the counter still holds it.

    It sits in its own bucket, or (added late) in a newer one: the current bucket is
    tried first when the event's own bucket is gone, and no count goes below zero.
    """
    bucket = _bucket(time, width)
    start = counter[0]
    if bucket > start:
        return  # the counter never saw it
    current, previous = 1, 3  # indexes of the two buckets' counts; each sum follows it
    slots: tuple[int, ...]
    if bucket == start:
        slots = (current,)
    elif bucket == start - width:
        slots = (previous,)
    else:
        slots = (current, previous)
    for slot in slots:
        if counter[slot] >= 1.0:
            counter[slot] -= 1.0
            counter[slot + 1] = max(counter[slot + 1] - value, 0.0)
            return


def _new_counter() -> list[float]:
    return [-math.inf, 0.0, 0.0, 0.0, 0.0]


@dataclass(slots=True)
class EntityState:
    """Counters of one entity; `to_json`/`from_json` is how SQL and Redis store it."""

    first_seen: float
    windows: dict[str, list[float]]  # VELOCITY_WINDOWS → counter of (count, amount)
    profile: list[float]  # count, sum, sum of squares of amounts not known as fraud
    known_frauds: list[float]  # counter over KNOWN_FRAUD_MEMORY_SECONDS
    anomalies: list[float]  # counter over ANOMALY_MEMORY_SECONDS
    peers: list[str]

    @classmethod
    def new(cls, time: float) -> EntityState:
        return cls(
            first_seen=time,
            windows={window: _new_counter() for window in VELOCITY_WINDOWS},
            profile=[0.0, 0.0, 0.0],
            known_frauds=_new_counter(),
            anomalies=_new_counter(),
            peers=[],
        )

    def to_json(self) -> dict[str, Any]:
        # -inf is not JSON: an unused counter starts at None.
        def encode(counter: list[float]) -> list[float | None]:
            return [None if math.isinf(counter[0]) else counter[0], *counter[1:]]

        return {
            "first_seen": self.first_seen,
            "windows": {name: encode(counter) for name, counter in self.windows.items()},
            "profile": self.profile,
            "known_frauds": encode(self.known_frauds),
            "anomalies": encode(self.anomalies),
            "peers": self.peers,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EntityState:
        def decode(counter: list[float | None]) -> list[float]:
            start = counter[0]
            return [-math.inf if start is None else float(start), *map(float, counter[1:])]  # type: ignore[arg-type]

        windows = {name: decode(counter) for name, counter in data["windows"].items()}
        for window in VELOCITY_WINDOWS:
            windows.setdefault(window, _new_counter())
        return cls(
            first_seen=float(data["first_seen"]),
            windows=windows,
            profile=[float(value) for value in data["profile"]],
            known_frauds=decode(data["known_frauds"]),
            anomalies=decode(data["anomalies"]),
            peers=[str(peer) for peer in data.get("peers", [])],
        )

    # ------------------------------------------------------------ reading

    def velocity(self, window: str, time: float) -> tuple[float, float]:
        return _window_value(self.windows[window], time, VELOCITY_WINDOW_SECONDS[window])

    def moments(self) -> tuple[int, float, float]:
        """(count, mean, standard deviation) of the profile; NaN where undefined."""
        count, total, squares = self.profile
        if count < 1:
            return 0, math.nan, math.nan
        mean = total / count
        if count < 2:
            return int(count), mean, math.nan
        return int(count), mean, math.sqrt(max(squares / count - mean * mean, 0.0))

    def customer_aggregates(self, time: float) -> CustomerAggregates:
        """The handbook's customer view of this entity (the live path uses the card)."""
        counts, sums = [], []
        for window in _MODEL_WINDOWS:
            count, total = self.velocity(window, time)
            counts.append(round(count))
            sums.append(total)
        profile_count, mean, std = self.moments()
        frauds, _ = _window_value(self.known_frauds, time, KNOWN_FRAUD_MEMORY_SECONDS)
        anomalies, _ = _window_value(self.anomalies, time, ANOMALY_MEMORY_SECONDS)
        return CustomerAggregates(
            first_seen=self.first_seen,
            counts=tuple(counts),
            amount_sums=tuple(sums),
            profile_count=profile_count,
            profile_mean=mean,
            profile_std=std,
            known_fraud_count=round(frauds),
            anomaly_count=round(anomalies),
        )

    # ------------------------------------------------------------ writing

    def record(self, time: float, amount: float, peer: str | None) -> None:
        """A payment of `amount` (major units) at `time`, after it was scored."""
        for window in VELOCITY_WINDOWS:
            _window_add(self.windows[window], time, VELOCITY_WINDOW_SECONDS[window], amount)
        _, mean, std = self.moments()
        if std > 0 and (amount - mean) / std > ANOMALY_ZSCORE:
            _window_add(self.anomalies, time, ANOMALY_MEMORY_SECONDS, 1.0)
        self.profile[0] += 1
        self.profile[1] += amount
        self.profile[2] += amount * amount
        if peer is not None and peer not in self.peers and len(self.peers) < MAX_PEERS:
            self.peers.append(peer)

    def record_fraud(self, time: float, amount: float) -> None:
        """A payment of this entity is known to be fraud: out of the profile, into the count."""
        if self.profile[0] >= 1:
            self.profile[0] -= 1
            self.profile[1] -= amount
            self.profile[2] = max(self.profile[2] - amount * amount, 0.0)
        _window_add(self.known_frauds, time, KNOWN_FRAUD_MEMORY_SECONDS, 1.0)

    def forget_fraud(self, time: float, amount: float) -> None:
        """A fraud label was withdrawn: undo `record_fraud` (the amount is the holder's again)."""
        self.profile[0] += 1
        self.profile[1] += amount
        self.profile[2] += amount * amount
        _window_remove(self.known_frauds, time, KNOWN_FRAUD_MEMORY_SECONDS, 1.0)


def terminal_day_range(time: float, label_delay_seconds: float) -> tuple[int, int]:
    """The days whose counters `terminal_aggregates` reads for a payment at `time`."""
    today = int(time // SECONDS_PER_DAY)
    delay_days = math.ceil(label_delay_seconds / SECONDS_PER_DAY)
    return today - delay_days - int(KNOWN_FRAUD_MEMORY_SECONDS // SECONDS_PER_DAY), today


def terminal_aggregates(
    days: Mapping[int, tuple[int, int]],
    time: float,
    label_delay_seconds: float,
    first_seen: float | None = None,
) -> TerminalAggregates:
    """The handbook's terminal view of a merchant from its (transactions, frauds) per day
    and the time its first payment was seen.

    The delayed windows are whole days: those ending on or before ``time - delay`` (a
    partly matured day is left out, so no label younger than the delay counts). Without
    a stored first-seen time (state written before it was kept), the oldest day read
    stands in for it, which caps the age at the days read.
    """
    if first_seen is None and days:
        first_seen = min(days) * SECONDS_PER_DAY
    if not days:
        return TerminalAggregates(
            first_seen, (0,) * len(WINDOW_DAYS), (0.0,) * len(WINDOW_DAYS), None, None, 0, math.nan
        )
    matured_end = int((time - label_delay_seconds) // SECONDS_PER_DAY)  # first immature day
    counts, frauds = [], []
    for width in WINDOW_DAYS:
        window = range(matured_end - width, matured_end)
        counts.append(sum(days[day][0] for day in window if day in days))
        frauds.append(float(sum(days[day][1] for day in window if day in days)))
    fraud_days = sorted(day for day, (_, known) in days.items() if known > 0)
    first_fraud = last_fraud = None
    count_since = 0
    share_since = math.nan
    if fraud_days:
        first_day = fraud_days[0]
        first_fraud = first_day * SECONDS_PER_DAY
        last_fraud = (fraud_days[-1] + 1) * SECONDS_PER_DAY - 1
        matured = [day for day in days if first_day <= day < matured_end]
        count_since = sum(days[day][0] for day in matured)
        if count_since:
            share_since = min(sum(days[day][1] for day in matured) / count_since, 1.0)
    return TerminalAggregates(
        first_seen=first_seen,
        delayed_counts=tuple(counts),
        delayed_fraud_counts=tuple(frauds),
        first_known_fraud=first_fraud,
        last_known_fraud=last_fraud,
        count_since_first_fraud=count_since,
        fraud_share_since_first_fraud=share_since,
    )


@dataclass(slots=True)
class LiveSnapshot:
    states: dict[str, EntityState]
    terminal_days: dict[int, tuple[int, int]]
    terminal_first_seen: float | None = None  # None: the merchant's first payment


class LiveFeatureStore(Protocol):
    """Where live counters are kept. `session` is the payment's unit of work (SQL uses it,
    Redis ignores it: its writes are not rolled back, so a failed payment still counts as
    an attempt, which is what velocity should count)."""

    async def read(
        self,
        session: Session,
        merchant_id: str,
        keys: Sequence[str],
        days: tuple[int, int],
        *,
        for_update: bool,
    ) -> LiveSnapshot: ...

    async def write(
        self,
        session: Session,
        merchant_id: str,
        states: Mapping[str, EntityState],
        *,
        day: int,
        shard: int,
        transactions: int,
        frauds: int,
        updated_at: float,
        first_seen: float | None = None,
    ) -> None:
        """Save `states` and add to the merchant's day counter; with `first_seen` (the
        snapshot had none), also store the merchant's first-seen time if still absent."""
        ...

    async def close(self) -> None: ...


class SqlLiveFeatureStore:
    """The embedded default: tables in the payment's own database and transaction.

    A payment costs two reads (its entities' states; the merchant's day counters with its
    first-seen time) and two writes (one multi-row upsert of the states; one day-counter
    upsert); a merchant's very first payment adds one insert of its first-seen time.
    """

    async def read(
        self,
        session: Session,
        merchant_id: str,
        keys: Sequence[str],
        days: tuple[int, int],
        *,
        for_update: bool,
    ) -> LiveSnapshot:
        raw = await repository.read_feature_states(session, keys, for_update=for_update)
        terminal_days, first_seen = await repository.read_terminal_days(session, merchant_id, *days)
        return LiveSnapshot(
            states={key: EntityState.from_json(value) for key, value in raw.items()},
            terminal_days=terminal_days,
            terminal_first_seen=first_seen,
        )

    async def write(
        self,
        session: Session,
        merchant_id: str,
        states: Mapping[str, EntityState],
        *,
        day: int,
        shard: int,
        transactions: int,
        frauds: int,
        updated_at: float,
        first_seen: float | None = None,
    ) -> None:
        await repository.write_feature_states(
            session, {key: state.to_json() for key, state in states.items()}, updated_at
        )
        if transactions or frauds:
            await repository.add_to_terminal_day(
                session, merchant_id, day, shard, transactions, frauds
            )
        if first_seen is not None:
            await repository.record_terminal_first_seen(session, merchant_id, first_seen)

    async def close(self) -> None:
        return None


REDIS_PREFIX = "smartpay:risk:"
REDIS_FIRST_SEEN_FIELD = "first_seen"  # in the merchant's hash, beside its "<day>:t|f" fields


class RedisLiveFeatureStore:
    """For a fleet: the same counters in Redis, one round trip to read, one to write.

    Entity states are JSON strings with a TTL; a merchant's day counters are fields of
    one hash (``<day>:t`` transactions, ``<day>:f`` frauds) incremented atomically, and
    its first-seen time the hash's ``first_seen`` field, set once with HSETNX and read
    by the same HMGET.
    """

    def __init__(self, url: str) -> None:
        import redis.asyncio as redis

        self._redis = redis.Redis.from_url(url)

    async def read(
        self,
        session: Session,
        merchant_id: str,
        keys: Sequence[str],
        days: tuple[int, int],
        *,
        for_update: bool,
    ) -> LiveSnapshot:
        day_numbers = list(range(days[0], days[1] + 1))
        fields = [f"{day}:{kind}" for day in day_numbers for kind in ("t", "f")]
        fields.append(REDIS_FIRST_SEEN_FIELD)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.mget([REDIS_PREFIX + "state:" + key for key in keys])
            pipe.hmget(REDIS_PREFIX + "terminal:" + merchant_id, fields)
            raw_states, raw_days = await pipe.execute()
        states = {
            key: EntityState.from_json(orjson.loads(value))
            for key, value in zip(keys, raw_states, strict=True)
            if value is not None
        }
        terminal_days: dict[int, tuple[int, int]] = {}
        for index, day in enumerate(day_numbers):
            transactions, frauds = raw_days[2 * index], raw_days[2 * index + 1]
            if transactions is not None or frauds is not None:
                terminal_days[day] = (int(transactions or 0), int(frauds or 0))
        first_seen = raw_days[-1]
        return LiveSnapshot(
            states=states,
            terminal_days=terminal_days,
            terminal_first_seen=None if first_seen is None else float(first_seen),
        )

    async def write(
        self,
        session: Session,
        merchant_id: str,
        states: Mapping[str, EntityState],
        *,
        day: int,
        shard: int,
        transactions: int,
        frauds: int,
        updated_at: float,
        first_seen: float | None = None,
    ) -> None:
        terminal = REDIS_PREFIX + "terminal:" + merchant_id
        async with self._redis.pipeline(transaction=False) as pipe:
            for key, state in states.items():
                pipe.set(
                    REDIS_PREFIX + "state:" + key,
                    orjson.dumps(state.to_json()),
                    ex=STATE_TTL_SECONDS,
                )
            if transactions:
                pipe.hincrby(terminal, f"{day}:t", transactions)
            if frauds:
                pipe.hincrby(terminal, f"{day}:f", frauds)
            if first_seen is not None:
                pipe.hsetnx(terminal, REDIS_FIRST_SEEN_FIELD, first_seen)
            await pipe.execute()

    async def close(self) -> None:
        await self._redis.aclose()


class MemoryLiveFeatureStore:
    """The live store in process memory, for replays and benchmarks of the live path.

    It keeps the very JSON states the SQL and Redis stores keep (encoded with orjson, so
    a state read back shares nothing with the one written), per-merchant day counters and
    first-seen times; shards are not needed in one process. Its synchronous
    `snapshot`/`apply` let a replay run without a database; `read`/`write` make it a
    `LiveFeatureStore`.
    """

    def __init__(self) -> None:
        self.states: dict[str, bytes] = {}
        self.days: dict[str, dict[int, tuple[int, int]]] = {}
        self.first_seen: dict[str, float] = {}

    def snapshot(
        self, merchant_id: str, keys: Sequence[str], days: tuple[int, int]
    ) -> LiveSnapshot:
        states = {
            key: EntityState.from_json(orjson.loads(raw))
            for key in keys
            if (raw := self.states.get(key)) is not None
        }
        merchant_days = self.days.get(merchant_id, {})
        first, last = days
        return LiveSnapshot(
            states=states,
            terminal_days={
                day: value for day, value in merchant_days.items() if first <= day <= last
            },
            terminal_first_seen=self.first_seen.get(merchant_id),
        )

    def apply(
        self,
        merchant_id: str,
        states: Mapping[str, EntityState],
        *,
        day: int,
        transactions: int,
        frauds: int,
        first_seen: float | None = None,
    ) -> None:
        for key, state in states.items():
            self.states[key] = orjson.dumps(state.to_json())
        if transactions or frauds:
            merchant_days = self.days.setdefault(merchant_id, {})
            count, known = merchant_days.get(day, (0, 0))
            merchant_days[day] = (count + transactions, known + frauds)
        if first_seen is not None:
            self.first_seen.setdefault(merchant_id, first_seen)

    async def read(
        self,
        session: Session,
        merchant_id: str,
        keys: Sequence[str],
        days: tuple[int, int],
        *,
        for_update: bool,
    ) -> LiveSnapshot:
        return self.snapshot(merchant_id, keys, days)

    async def write(
        self,
        session: Session,
        merchant_id: str,
        states: Mapping[str, EntityState],
        *,
        day: int,
        shard: int,
        transactions: int,
        frauds: int,
        updated_at: float,
        first_seen: float | None = None,
    ) -> None:
        self.apply(
            merchant_id,
            states,
            day=day,
            transactions=transactions,
            frauds=frauds,
            first_seen=first_seen,
        )

    async def close(self) -> None:
        return None
