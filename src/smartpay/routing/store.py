"""Where routing statistics live. One interface, three implementations:

- ``SqlRoutingStore``: the embedded default, tables in SmartPay's own database, shared by
  every API process and worker on it. It writes behind: each process folds its attempt
  outcomes together and writes them in one short transaction every
  SMARTPAY_ROUTING_FLUSH_SECONDS (at once when a breaker changes), and decisions read a
  copy of the shared rows no older than that. Per payment that is no SQL at all instead
  of a locked breaker row and a dozen statements (measured in the README); a crash loses
  at most that interval's samples, which only slows learning a little.
- ``RedisRoutingStore``: Redis hashes, for a fleet (updates are a Lua script and an
  optimistic transaction, so concurrent workers never lose each other's counts);
- ``MemoryRoutingStore``: one process's dictionaries, for the simulator and the benchmark.

All only load and save: what an observation does to the counts (``ArmStats.observe``,
``ArmIncrement``, ``breaker.after_call``) is decided by the same functions for all.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from redis.exceptions import WatchError

from smartpay.kit.db import Session
from smartpay.routing import repository
from smartpay.routing.bandit import (
    LATENCY_EWMA_WEIGHT,
    ArmIncrement,
    ArmStats,
    Observation,
    stats_keys,
)
from smartpay.routing.breaker import (
    BreakerPolicy,
    BreakerRecord,
    BreakerState,
    Transition,
    after_call,
)


@dataclass(slots=True)
class RoutingSnapshot:
    """What one decision reads: arm statistics and breaker records."""

    stats: Mapping[tuple[str, str], ArmStats] = field(default_factory=dict)
    breakers: Mapping[str, BreakerRecord] = field(default_factory=dict)

    def arm(self, processor: str, segment: str) -> ArmStats | None:
        return self.stats.get((processor, segment))


def counts_for_strategy(observation: Observation, breaker: BreakerRecord) -> bool:
    """Whether an outcome goes into the strategy's statistics. Card-caused declines never
    do. Calls let through while a breaker is open or half-open are its probes: they decide
    the breaker, and an outage already handled by the breaker is not held against the
    processor's approval rate for hours after it ends."""
    return observation.counted and breaker.state is BreakerState.CLOSED


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt teaches routing."""

    merchant_id: str  # whose payment it was: a breaker change it causes is their event
    processor: str
    segment: str
    observation: Observation
    latency_ms: float | None
    at: float


@dataclass(frozen=True, slots=True)
class BreakerChange:
    merchant_id: str
    transition: Transition


class RoutingStore(Protocol):
    async def load(
        self, session: Session | None, processors: Sequence[str], segment: str
    ) -> RoutingSnapshot: ...

    async def record(self, outcome: Outcome) -> list[BreakerChange]:
        """Fold an outcome in; the breaker changes it caused (a store that writes behind
        reports them from ``flush``)."""
        ...

    def flush_due(self) -> bool:
        """Whether outcomes are waiting that should be written now."""
        ...

    def pending(self) -> bool:
        """Whether outcomes are waiting to be written at all."""
        ...

    async def flush(self, session: Session) -> list[BreakerChange]:
        """Write what is waiting, in the caller's transaction."""
        ...


class _WritesThrough:
    """For stores that apply every outcome as it comes: nothing ever waits."""

    def flush_due(self) -> bool:
        return False

    def pending(self) -> bool:
        return False

    async def flush(self, session: Session) -> list[BreakerChange]:
        return []


class MemoryRoutingStore(_WritesThrough):
    """Statistics in this process's memory. ``load`` returns live views (no copy), so a
    decision costs no allocation beyond its own result."""

    def __init__(self, half_life_seconds: float, breaker_policy: BreakerPolicy) -> None:
        self.half_life_seconds = half_life_seconds
        self.breaker_policy = breaker_policy
        self.stats: dict[tuple[str, str], ArmStats] = {}
        self.breakers: dict[str, BreakerRecord] = {}
        self._snapshot = RoutingSnapshot(self.stats, self.breakers)

    def view(self) -> RoutingSnapshot:
        return self._snapshot

    def record_now(
        self,
        processor: str,
        segment: str,
        observation: Observation,
        latency_ms: float | None,
        now: float,
    ) -> list[Transition]:
        record = self.breakers.get(processor) or BreakerRecord(processor)
        counted = counts_for_strategy(observation, record)
        for name in stats_keys(segment):
            arm = self.stats.get((processor, name))
            if arm is None:
                arm = self.stats[(processor, name)] = ArmStats(updated_at=now)
            if counted:
                arm.observe(observation.success, latency_ms, now, self.half_life_seconds)
            else:
                arm.observe_latency(latency_ms)
        record, transitions = after_call(
            record, observation.breaker_failure, now, self.breaker_policy
        )
        self.breakers[processor] = record
        return transitions

    async def load(
        self, session: Session | None, processors: Sequence[str], segment: str
    ) -> RoutingSnapshot:
        return self._snapshot

    async def record(self, outcome: Outcome) -> list[BreakerChange]:
        transitions = self.record_now(
            outcome.processor, outcome.segment, outcome.observation, outcome.latency_ms, outcome.at
        )
        return [BreakerChange(outcome.merchant_id, transition) for transition in transitions]


@dataclass(slots=True)
class _CachedStats:
    stats: Mapping[tuple[str, str], ArmStats]
    processors: tuple[str, ...]
    loaded_at: float  # time.monotonic()


class SqlRoutingStore:
    """Statistics in SmartPay's database (``routing_stats``, ``routing_breakers``),
    written behind (see the module's docstring).

    The breakers a decision sees are the shared rows as last read plus this process's
    outcomes not yet written, so a processor that fails here is skipped here at once;
    the outcome that moves a breaker asks for an immediate flush, which decides the
    change against the shared row and announces it."""

    def __init__(
        self, half_life_seconds: float, breaker_policy: BreakerPolicy, flush_seconds: float = 0.0
    ) -> None:
        self.half_life_seconds = half_life_seconds
        self.breaker_policy = breaker_policy
        self.flush_seconds = flush_seconds
        self._waiting: list[Outcome] = []
        self._stats: dict[str, _CachedStats] = {}
        self._shared_breakers: dict[str, BreakerRecord] = {}  # as last read or written
        self._breakers: dict[str, BreakerRecord] = {}  # shared + this process's waiting
        self._breakers_loaded_at = -float("inf")
        self._breakers_of: tuple[str, ...] = ()
        self._urgent = False
        self._written_at = time.monotonic()

    async def load(
        self, session: Session | None, processors: Sequence[str], segment: str
    ) -> RoutingSnapshot:
        assert session is not None, "the SQL store reads inside the caller's transaction"
        clock = time.monotonic()
        names = tuple(processors)
        cached = self._stats.get(segment)
        if (
            cached is None
            or cached.processors != names
            or clock - cached.loaded_at >= self.flush_seconds
        ):
            stats = await repository.load_stats(session, processors, segment)
            cached = self._stats[segment] = _CachedStats(stats, names, clock)
        if clock - self._breakers_loaded_at >= self.flush_seconds or names != self._breakers_of:
            self._shared_breakers = await repository.load_breakers(session, processors)
            self._breakers_loaded_at = clock
            self._breakers_of = names
            self._replay_waiting()
        return RoutingSnapshot(cached.stats, self._breakers)

    def _replay_waiting(self) -> None:
        breakers = dict(self._shared_breakers)
        for outcome in self._waiting:
            record = breakers.get(outcome.processor) or BreakerRecord(outcome.processor)
            breakers[outcome.processor], _ = after_call(
                record, outcome.observation.breaker_failure, outcome.at, self.breaker_policy
            )
        self._breakers = breakers

    async def record(self, outcome: Outcome) -> list[BreakerChange]:
        self._waiting.append(outcome)
        record = self._breakers.get(outcome.processor) or BreakerRecord(outcome.processor)
        updated, transitions = after_call(
            record, outcome.observation.breaker_failure, outcome.at, self.breaker_policy
        )
        self._breakers[outcome.processor] = updated
        if transitions:
            self._urgent = True
        return []

    def flush_due(self) -> bool:
        if not self._waiting:
            return False
        return self._urgent or time.monotonic() - self._written_at >= self.flush_seconds

    def pending(self) -> bool:
        return bool(self._waiting)

    async def flush(self, session: Session) -> list[BreakerChange]:
        """Every waiting outcome in one transaction: per processor (in name order, so
        concurrent flushes lock breakers in the same order), the breaker row is locked,
        the outcomes are folded into it one by one exactly as they happened, and the
        statistics rows get one UPDATE each. If the transaction fails, the outcomes are
        dropped (learning is best effort) and the next read brings the shared state."""
        waiting, self._waiting = self._waiting, []
        self._urgent = False
        self._written_at = time.monotonic()
        by_processor: dict[str, list[Outcome]] = {}
        for outcome in waiting:
            by_processor.setdefault(outcome.processor, []).append(outcome)
        changes: list[BreakerChange] = []
        for processor in sorted(by_processor):
            record = await repository.lock_breaker(session, processor)
            stored = record
            increments: dict[str, ArmIncrement] = {}
            for outcome in by_processor[processor]:
                counted = counts_for_strategy(outcome.observation, record)
                for name in stats_keys(outcome.segment):
                    increment = increments.get(name)
                    if increment is None:
                        increment = increments[name] = ArmIncrement()
                    increment.add(
                        outcome.observation.success if counted else None,
                        outcome.latency_ms,
                        outcome.at,
                        self.half_life_seconds,
                    )
                record, transitions = after_call(
                    record, outcome.observation.breaker_failure, outcome.at, self.breaker_policy
                )
                changes += [BreakerChange(outcome.merchant_id, moved) for moved in transitions]
            if record != stored:
                await repository.save_breaker(session, record)
            await repository.add_increments(session, processor, increments, self.half_life_seconds)
            self._shared_breakers[processor] = record
        # What was just written is the freshest shared state there is; statistics are
        # read again on the next decision.
        self._stats.clear()
        self._replay_waiting()
        return changes


# The decay and latency arithmetic of ``ArmStats.observe``, run inside Redis so that
# concurrent workers never lose each other's counts. KEYS: the stats hashes of one
# observation; ARGV: now, half-life, success (1, 0, or -1 for "latency only"), latency
# (-1 for none), latency weight, max half-lives.
_OBSERVE_SCRIPT: Final = """
local now = tonumber(ARGV[1])
local half_life = tonumber(ARGV[2])
local success = tonumber(ARGV[3])
local latency = tonumber(ARGV[4])
local weight = tonumber(ARGV[5])
local cap = tonumber(ARGV[6])
for _, key in ipairs(KEYS) do
  local v = redis.call('HMGET', key, 's', 'f', 't', 'l', 'n')
  local s = tonumber(v[1]) or 0
  local f = tonumber(v[2]) or 0
  local t = tonumber(v[3]) or now
  local l = tonumber(v[4]) or 0
  local n = tonumber(v[5]) or 0
  if success >= 0 then
    local factor = 1
    if t < now then
      local elapsed = (now - t) / half_life
      if elapsed > cap then elapsed = cap end
      factor = 0.5 ^ elapsed
      t = now
    end
    s = s * factor + success
    f = f * factor + (1 - success)
  end
  if latency >= 0 then
    if n == 0 then l = latency else l = l + weight * (latency - l) end
    n = n + 1
  end
  redis.call('HSET', key, 's', tostring(s), 'f', tostring(f), 't', tostring(t),
             'l', tostring(l), 'n', tostring(n))
end
return 1
"""
_MAX_HALF_LIVES: Final = 60
# Optimistic transactions on a breaker retry this often before giving up on the update
# (a lost breaker update is one call not counted; the next one is).
_BREAKER_RETRIES: Final = 20
_BREAKER_FIELDS: Final = (
    "state",
    "changed_at",
    "window_start",
    "calls",
    "failures",
    "previous_calls",
    "previous_failures",
    "probe_successes",
)


class RedisRoutingStore(_WritesThrough):
    """Statistics in Redis (SMARTPAY_REDIS_URL), for a fleet of API processes on several
    databases or hosts: one hash per (processor, segment) and per breaker."""

    def __init__(
        self,
        client: Any,
        half_life_seconds: float,
        breaker_policy: BreakerPolicy,
        *,
        prefix: str = "smartpay:routing",
    ) -> None:
        self.client = client
        self.half_life_seconds = half_life_seconds
        self.breaker_policy = breaker_policy
        self.prefix = prefix
        self._observe = client.register_script(_OBSERVE_SCRIPT)

    def _stats_key(self, processor: str, segment: str) -> str:
        return f"{self.prefix}:stats:{processor}:{segment}"

    def _breaker_key(self, processor: str) -> str:
        return f"{self.prefix}:breaker:{processor}"

    async def load(
        self, session: Session | None, processors: Sequence[str], segment: str
    ) -> RoutingSnapshot:
        keys = [(p, name) for p in processors for name in stats_keys(segment)]
        async with self.client.pipeline(transaction=False) as pipe:
            for processor, name in keys:
                pipe.hmget(self._stats_key(processor, name), "s", "f", "t", "l", "n")
            for processor in processors:
                pipe.hmget(self._breaker_key(processor), *_BREAKER_FIELDS)
            replies = await pipe.execute()
        stats: dict[tuple[str, str], ArmStats] = {}
        for key, reply in zip(keys, replies[: len(keys)], strict=True):
            if reply[0] is not None:
                s, f, t, latency, n = reply
                stats[key] = ArmStats(float(s), float(f), float(t), float(latency), int(n))
        breakers = {}
        for processor, reply in zip(processors, replies[len(keys) :], strict=True):
            if reply[0] is not None:
                breakers[processor] = _breaker_from(processor, reply)
        return RoutingSnapshot(stats, breakers)

    async def record(self, outcome: Outcome) -> list[BreakerChange]:
        processor, observation, now = outcome.processor, outcome.observation, outcome.at
        segment, latency_ms = outcome.segment, outcome.latency_ms
        key = self._breaker_key(processor)
        transitions: list[Transition] = []
        before = BreakerRecord(processor)
        for _ in range(_BREAKER_RETRIES):
            async with self.client.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(key)
                    reply = await pipe.hmget(key, *_BREAKER_FIELDS)
                    before = (
                        _breaker_from(processor, reply)
                        if reply[0] is not None
                        else BreakerRecord(processor)
                    )
                    after, transitions = after_call(
                        before, observation.breaker_failure, now, self.breaker_policy
                    )
                    pipe.multi()
                    pipe.hset(key, mapping=_breaker_mapping(after))
                    await pipe.execute()
                    break
                except WatchError:
                    continue
        counted = counts_for_strategy(observation, before)
        await self._observe(
            keys=[self._stats_key(processor, name) for name in stats_keys(segment)],
            args=[
                repr(now),
                repr(self.half_life_seconds),
                (1 if observation.success else 0) if counted else -1,
                repr(latency_ms) if latency_ms is not None else -1,
                repr(LATENCY_EWMA_WEIGHT),
                _MAX_HALF_LIVES,
            ],
        )
        return [BreakerChange(outcome.merchant_id, transition) for transition in transitions]


def _decode(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _breaker_from(processor: str, reply: Sequence[Any]) -> BreakerRecord:
    values = dict(zip(_BREAKER_FIELDS, (_decode(item) for item in reply), strict=True))
    return BreakerRecord(
        processor=processor,
        state=BreakerState(values["state"]),
        changed_at=float(values["changed_at"]),
        window_start=float(values["window_start"]),
        calls=int(values["calls"]),
        failures=int(values["failures"]),
        previous_calls=int(values["previous_calls"]),
        previous_failures=int(values["previous_failures"]),
        probe_successes=int(values["probe_successes"]),
    )


def _breaker_mapping(record: BreakerRecord) -> dict[str, str]:
    return {
        "state": record.state.value,
        "changed_at": repr(record.changed_at),
        "window_start": repr(record.window_start),
        "calls": str(record.calls),
        "failures": str(record.failures),
        "previous_calls": str(record.previous_calls),
        "previous_failures": str(record.previous_failures),
        "probe_successes": str(record.probe_successes),
    }
