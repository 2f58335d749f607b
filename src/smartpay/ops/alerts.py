"""Alerts: the worker compares recent figures with configurable thresholds and says so
when one is crossed, once, and again when it clears.

- Per merchant (an ``alert.triggered`` / ``alert.resolved`` event, so a webhook, and a
  log line): the share of the merchant's recent charges that failed.
- For the whole platform (a log line at WARNING, which log-based alerting picks up):
  the share of HTTP requests answered 5xx, the p99 request latency, and the webhook
  backlog.

Thresholds and the window are settings (``SMARTPAY_ALERT_*``). A figure computed from
fewer than ``alert_min_samples`` payments or requests is not judged: two failures out of
three payments is noise, not an outage. Firing state lives in the worker's memory: after
a restart a condition still true is reported once more, which errs on the side of being
heard.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry

from smartpay.config import Settings
from smartpay.events.service import EventBatch
from smartpay.kit.db import Database
from smartpay.kit.ids import new_id
from smartpay.ops import repository
from smartpay.ops.metrics import HTTP_REQUEST_SECONDS

logger = logging.getLogger("smartpay.alerts")

PAYMENT_FAILURE_RATE = "payment_failure_rate"
HTTP_ERROR_RATE = "http_error_rate"
HTTP_P99_LATENCY = "http_p99_latency_seconds"
WEBHOOK_BACKLOG = "webhook_backlog"

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class Reading:
    """One figure judged against its threshold. ``merchant_id`` None: platform-wide."""

    alert: str
    value: float
    threshold: float
    merchant_id: str | None = None

    @property
    def firing(self) -> bool:
        return self.value > self.threshold


@dataclass(slots=True)
class _HttpTotals:
    """Cumulative request counts, as the latency histogram has them."""

    requests: float = 0.0
    errors: float = 0.0
    buckets: dict[float, float] = field(default_factory=dict)  # upper bound -> cumulative


def _http_totals(registry: CollectorRegistry) -> _HttpTotals:
    totals = _HttpTotals()
    name = HTTP_REQUEST_SECONDS._name  # the family name, without the _bucket/_count suffix
    for family in registry.collect():
        if family.name != name:
            continue
        for sample in family.samples:
            if sample.name == f"{name}_count":
                totals.requests += sample.value
                if sample.labels.get("status", "").startswith("5"):
                    totals.errors += sample.value
            elif sample.name == f"{name}_bucket":
                bound = float(sample.labels["le"])
                totals.buckets[bound] = totals.buckets.get(bound, 0.0) + sample.value
    return totals


def _p99(bucket_deltas: dict[float, float], count: float) -> float:
    """The upper bound of the first bucket holding the 99th percentile request."""
    wanted = math.ceil(0.99 * count)
    for bound in sorted(bucket_deltas):
        if bucket_deltas[bound] >= wanted:
            return bound
    return math.inf


@dataclass(slots=True)
class AlertMonitor:
    """Evaluates every alert each worker round and reports changes of state."""

    database: Database
    settings: Settings
    registry: CollectorRegistry = REGISTRY
    now: Clock = time.time
    firing: set[tuple[str, str | None]] = field(default_factory=set)
    # (time, totals) of earlier rounds, back to the start of the window.
    _http_history: deque[tuple[float, _HttpTotals]] = field(default_factory=deque)

    async def run_round(self) -> list[Reading]:
        """Evaluate, report what changed, and return what changed."""
        readings = [*await self._payment_failure_rates(), *self._http_readings()]
        readings.append(await self._webhook_backlog())
        changed = [r for r in readings if r.firing != ((r.alert, r.merchant_id) in self.firing)]
        for reading in changed:
            key = (reading.alert, reading.merchant_id)
            if reading.firing:
                self.firing.add(key)
            else:
                self.firing.discard(key)
        await self._report(changed)
        return changed

    async def _payment_failure_rates(self) -> list[Reading]:
        since = int(self.now() - self.settings.alert_window_seconds)
        async with self.database.transaction() as session:
            rows = await repository.charge_outcomes_by_merchant(session, since)
        readings = []
        for merchant_id, failed, decided in rows:
            if decided >= self.settings.alert_min_samples:
                readings.append(
                    Reading(
                        PAYMENT_FAILURE_RATE,
                        failed / decided,
                        self.settings.alert_payment_failure_rate,
                        merchant_id,
                    )
                )
        # A merchant whose alert fired and whose traffic has since stopped clears.
        seen = {r.merchant_id for r in readings}
        for alert, stale_merchant in list(self.firing):
            if alert == PAYMENT_FAILURE_RATE and stale_merchant not in seen:
                readings.append(
                    Reading(alert, 0.0, self.settings.alert_payment_failure_rate, stale_merchant)
                )
        return readings

    def _http_readings(self) -> list[Reading]:
        """From the request histogram's growth over the window (this process's requests,
        or every server process's when they share a metrics directory)."""
        current_time, current = self.now(), _http_totals(self.registry)
        history = self._http_history
        history.append((current_time, current))
        window_start = current_time - self.settings.alert_window_seconds
        while len(history) > 1 and history[1][0] <= window_start:
            history.popleft()
        previous = history[0][1]
        requests = current.requests - previous.requests
        if requests < self.settings.alert_min_samples:
            return []
        deltas = {b: v - previous.buckets.get(b, 0.0) for b, v in current.buckets.items()}
        return [
            Reading(
                HTTP_ERROR_RATE,
                (current.errors - previous.errors) / requests,
                self.settings.alert_error_rate,
            ),
            Reading(HTTP_P99_LATENCY, _p99(deltas, requests), self.settings.alert_p99_seconds),
        ]

    async def _webhook_backlog(self) -> Reading:
        async with self.database.transaction() as session:
            backlog, _ = await repository.webhook_backlog(session, int(self.now()))
        return Reading(WEBHOOK_BACKLOG, backlog, self.settings.alert_webhook_backlog)

    async def _report(self, changed: Iterable[Reading]) -> None:
        batches: dict[str, EventBatch] = {}
        for reading in changed:
            state = "triggered" if reading.firing else "resolved"
            level = logging.WARNING if reading.firing else logging.INFO
            logger.log(
                level,
                "alert %s %s: %.4g (threshold %.4g)%s",
                reading.alert,
                state,
                reading.value,
                reading.threshold,
                f" for merchant {reading.merchant_id}" if reading.merchant_id else "",
            )
            if reading.merchant_id is not None:
                batch = batches.setdefault(reading.merchant_id, EventBatch(reading.merchant_id))
                batch.add(f"alert.{state}", self._render(reading, state))
        if batches:
            async with self.database.transaction() as session:
                for batch in batches.values():
                    await batch.flush(session)

    def _render(self, reading: Reading, state: str) -> dict[str, Any]:
        return {
            "id": new_id("alrt"),
            "object": "alert",
            "alert": reading.alert,
            "status": state,
            "value": reading.value,
            "threshold": reading.threshold,
            "window_seconds": self.settings.alert_window_seconds,
            "created": int(self.now()),
        }
