"""The per-processor circuit breaker, as pure functions over a ``BreakerRecord``.

- **closed**: every call goes through. Errors and timeouts are counted over a sliding
  window (the two-fixed-windows approximation: the previous window weighted by how much
  of it still overlaps the last ``window_seconds``, plus the current one). When at least
  ``min_calls`` calls fell in the window and ``error_rate`` of them failed, it opens.
- **open**: routing skips the processor. After ``cooldown_seconds`` it lets probes through.
- **half_open**: a ``probe_share`` of payments is routed there; ``probe_successes`` answers
  in a row close it, one error or timeout opens it again.

Declines are answers: they never trip a breaker. Stores (SQL, Redis, memory) only load
and save records; every decision is made here, so they all behave alike.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Final


class BreakerState(StrEnum):
    CLOSED = "closed"  # healthy: every call goes through
    OPEN = "open"  # failing: skipped until the cooldown has passed
    HALF_OPEN = "half_open"  # probing: a share of calls, closes after successes in a row


# Allowed transitions: the one table the breaker checks against.
BREAKER_TRANSITIONS: Final[dict[BreakerState, frozenset[BreakerState]]] = {
    BreakerState.CLOSED: frozenset({BreakerState.OPEN}),
    BreakerState.OPEN: frozenset({BreakerState.HALF_OPEN}),
    BreakerState.HALF_OPEN: frozenset({BreakerState.CLOSED, BreakerState.OPEN}),
}


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    """SMARTPAY_ROUTING_BREAKER_*. The defaults follow resilience4j's (50% failure rate,
    a minimum number of calls before judging, a wait in open state, a few permitted
    half-open calls), with the window in seconds since payments arrive unevenly: two
    minutes and ten calls let a merchant with a few payments a second see an outage within
    a minute, while one stray timeout never opens anything."""

    window_seconds: float = 120.0
    min_calls: int = 10
    error_rate: float = 0.5
    cooldown_seconds: float = 30.0
    probe_successes: int = 3
    probe_share: float = 0.1


@dataclass(frozen=True, slots=True)
class BreakerRecord:
    processor: str
    state: BreakerState = BreakerState.CLOSED
    changed_at: float = 0.0
    window_start: float = 0.0
    calls: int = 0
    failures: int = 0
    previous_calls: int = 0
    previous_failures: int = 0
    probe_successes: int = 0

    def window_counts(self, now: float, policy: BreakerPolicy) -> tuple[float, float]:
        """(calls, failures) over the last ``window_seconds`` (estimated)."""
        width = policy.window_seconds
        start = now - (now % width)
        if start <= self.window_start:  # the current window: no roll needed
            previous_calls, previous_failures = self.previous_calls, self.previous_failures
            calls, failures, window_start = self.calls, self.failures, self.window_start
        elif start - self.window_start < 2 * width and self.window_start:
            previous_calls, previous_failures = self.calls, self.failures
            calls, failures, window_start = 0, 0, start
        else:
            return 0.0, 0.0
        overlap = 1.0 - min(1.0, max(0.0, (now - window_start) / width))
        return previous_calls * overlap + calls, previous_failures * overlap + failures

    def as_reason(self, now: float, policy: BreakerPolicy) -> dict[str, object]:
        calls, failures = self.window_counts(now, policy)
        return {
            "state": self.state.value,
            "window_calls": round(calls, 1),
            "window_error_rate": round(failures / calls, 3) if calls else 0.0,
        }


@dataclass(frozen=True, slots=True)
class Transition:
    processor: str
    previous: BreakerState
    state: BreakerState
    at: float
    window_calls: float
    window_error_rate: float


def _rolled(record: BreakerRecord, now: float, policy: BreakerPolicy) -> BreakerRecord:
    """Move the fixed windows forward to the one containing ``now``."""
    width = policy.window_seconds
    start = now - (now % width)
    if start <= record.window_start:
        return record
    if start - record.window_start >= 2 * width or record.window_start == 0:
        return replace(
            record, window_start=start, calls=0, failures=0, previous_calls=0, previous_failures=0
        )
    return replace(
        record,
        window_start=start,
        previous_calls=record.calls,
        previous_failures=record.failures,
        calls=0,
        failures=0,
    )


def _move(
    record: BreakerRecord, state: BreakerState, now: float, policy: BreakerPolicy
) -> tuple[BreakerRecord, Transition]:
    if state not in BREAKER_TRANSITIONS[record.state]:
        raise ValueError(f"breaker {record.processor}: {record.state} -> {state} is not allowed")
    calls, failures = record.window_counts(now, policy)
    transition = Transition(
        record.processor, record.state, state, now, calls, failures / calls if calls else 0.0
    )
    moved = replace(record, state=state, changed_at=now, probe_successes=0)
    if state is BreakerState.CLOSED:
        # A fresh start: the errors that opened it must not open it again at once.
        moved = replace(moved, calls=0, failures=0, previous_calls=0, previous_failures=0)
    return moved, transition


def admits(
    record: BreakerRecord | None, now: float, policy: BreakerPolicy, rng: random.Random
) -> tuple[bool, str]:
    """Whether routing may send this payment to the processor, and why."""
    if record is None or record.state is BreakerState.CLOSED:
        return True, "closed"
    if record.state is BreakerState.OPEN and now - record.changed_at < policy.cooldown_seconds:
        return False, "open"
    # Half-open, or open past its cooldown (it turns half-open with the first probe's answer).
    if rng.random() < policy.probe_share:
        return True, "probe"
    return False, "half_open_not_probing"


def after_call(
    record: BreakerRecord, failed: bool, now: float, policy: BreakerPolicy
) -> tuple[BreakerRecord, list[Transition]]:
    """Fold one call's result (``failed``: an error or a timeout) into the record."""
    transitions: list[Transition] = []
    record = _rolled(record, now, policy)
    record = replace(record, calls=record.calls + 1, failures=record.failures + int(failed))
    if record.state is BreakerState.OPEN:
        if now - record.changed_at < policy.cooldown_seconds:
            return record, transitions  # a call made while every breaker was open
        record, moved = _move(record, BreakerState.HALF_OPEN, now, policy)
        transitions.append(moved)
    if record.state is BreakerState.HALF_OPEN:
        if failed:
            record, moved = _move(record, BreakerState.OPEN, now, policy)
            transitions.append(moved)
        else:
            record = replace(record, probe_successes=record.probe_successes + 1)
            if record.probe_successes >= policy.probe_successes:
                record, moved = _move(record, BreakerState.CLOSED, now, policy)
                transitions.append(moved)
        return record, transitions
    calls, failures = record.window_counts(now, policy)
    if calls >= policy.min_calls and failures >= policy.error_rate * calls:
        record, moved = _move(record, BreakerState.OPEN, now, policy)
        transitions.append(moved)
    return record, transitions
