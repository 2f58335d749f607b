"""Prometheus metrics.

Two kinds, served together at ``/metrics``:

- **Process metrics** (request latency per route): counted in each process. With
  several server processes ``smartpay serve`` points ``PROMETHEUS_MULTIPROC_DIR`` at a
  directory they all write to, and a scrape of any one of them aggregates all of them
  (prometheus-client's multiprocess mode).
- **System metrics** (payments by status, approval rate per processor, webhook backlog
  and lag, worker queues): read from the database at scrape time, so they are the same
  whichever process answers, and survive restarts.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from smartpay.kit.db import Database
from smartpay.ops import repository
from smartpay.payments.models import ChargeStatus

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Request latency buckets (seconds): dense around the 50 ms payment goal, up to the 10 s
# processor timeout after which an answer is an error anyway.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# The approval rate per processor is over this recent window: long enough to hold
# enough payments to mean something, short enough to show an outage while it lasts.
APPROVAL_WINDOW_SECONDS = 3600

HTTP_REQUEST_SECONDS = Histogram(
    "smartpay_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template and status code.",
    ["method", "route", "status"],
    buckets=LATENCY_BUCKETS,
)


# LLM calls take from a fraction of a second (a local model) to the adapter's deadline.
LLM_LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0)
LLM_CALL_SECONDS = Histogram(
    "smartpay_llm_call_duration_seconds",
    "Time of one LLM call (chat bot and AI voters), by provider and outcome (ok, timeout, error).",
    ["provider", "outcome"],
    buckets=LLM_LATENCY_BUCKETS,
)
BREAKER_TRANSITIONS = Counter(
    "smartpay_routing_breaker_transitions",
    "Circuit breaker changes this process decided, by processor and new state.",
    ["processor", "state"],
)
BREAKER_STATES = ("closed", "open", "half_open")


def prepare_multiprocess_dir(path: Path) -> None:
    """Before starting several server processes: an empty directory for their metric
    files (stale files of dead processes would be summed in otherwise)."""
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROCESS_ENV] = str(path)


class MetricsMiddleware:
    """Times every HTTP request. The route label is the matched route's template
    (``/v1/payment_intents/{intent_id}``), never the raw path, so ids do not explode the
    number of series."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client sees if the app dies before answering

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            HTTP_REQUEST_SECONDS.labels(scope["method"], template, str(status)).observe(
                time.perf_counter() - started
            )


@dataclass(slots=True, eq=False)  # a registry keys its collectors by identity
class _Snapshot:
    """System metrics read from the database for one scrape."""

    families: list[Metric] = field(default_factory=list)

    def gauge(self, name: str, documentation: str, value: float) -> None:
        family = GaugeMetricFamily(name, documentation)
        family.add_metric([], value)
        self.families.append(family)

    def labelled(
        self,
        name: str,
        documentation: str,
        labels: list[str],
        samples: Iterable[tuple[list[str], float]],
    ) -> None:
        family = GaugeMetricFamily(name, documentation, labels=labels)
        for values, value in samples:
            family.add_metric(values, value)
        self.families.append(family)

    def collect(self) -> Iterator[Metric]:
        return iter(self.families)


async def _system_snapshot(database: Database, now: int) -> _Snapshot:
    snapshot = _Snapshot()
    async with database.transaction() as session:
        intents = await repository.intents_by_status(session)
        recent = await repository.charges_by_processor_and_status(
            session, now - APPROVAL_WINDOW_SECONDS
        )
        open_attempts = await repository.open_attempts(session)
        breakers = await repository.breaker_states(session)
        risk = await repository.risk_decisions(session, now - APPROVAL_WINDOW_SECONDS)
        routed = await repository.attempts_by_processor(session, now - APPROVAL_WINDOW_SECONDS)
        unfanned = await repository.events_not_fanned_out(session)
        backlog, oldest_due = await repository.webhook_backlog(session, now)
        inbound = await repository.inbound_pending(session)
    snapshot.labelled(
        "smartpay_payment_intents",
        "PaymentIntents by status.",
        ["status"],
        (([status], count) for status, count in intents),
    )
    snapshot.labelled(
        "smartpay_recent_charges",
        f"Charges of the last {APPROVAL_WINDOW_SECONDS} s by processor and status.",
        ["processor", "status"],
        (([processor, status], count) for processor, status, count in recent),
    )
    decided: dict[str, list[int]] = {}
    for processor, status, count in recent:
        if status == ChargeStatus.PENDING.value:
            continue
        totals = decided.setdefault(processor, [0, 0])
        totals[1] += count
        if status == ChargeStatus.SUCCEEDED.value:
            totals[0] += count
    snapshot.labelled(
        "smartpay_processor_approval_rate",
        f"Share of the last {APPROVAL_WINDOW_SECONDS} s of decided charges that were "
        "approved, by processor.",
        ["processor"],
        (([processor], ok / total) for processor, (ok, total) in decided.items() if total),
    )
    snapshot.labelled(
        "smartpay_risk_decisions",
        f"PaymentIntents of the last {APPROVAL_WINDOW_SECONDS} s the risk engine assessed, "
        "by decision (allow, review, block).",
        ["decision"],
        (([decision], count) for decision, count in risk),
    )
    snapshot.labelled(
        "smartpay_routing_attempts",
        f"Authorization attempts of the last {APPROVAL_WINDOW_SECONDS} s by processor: "
        "where routing sent payments, cascades included.",
        ["processor"],
        (([processor], count) for processor, count in routed),
    )
    snapshot.labelled(
        "smartpay_routing_breaker_state",
        "Circuit breaker state per processor: 1 for the state it is in, 0 for the others.",
        ["processor", "state"],
        (
            ([processor, state], 1.0 if state == current else 0.0)
            for processor, current in breakers
            for state in BREAKER_STATES
        ),
    )
    snapshot.gauge(
        "smartpay_payment_attempts_open",
        "Processor calls pending or of unknown outcome: the janitor's queue.",
        open_attempts,
    )
    snapshot.gauge(
        "smartpay_events_not_fanned_out",
        "Committed events the webhook worker has not turned into deliveries yet.",
        unfanned,
    )
    snapshot.gauge(
        "smartpay_webhook_backlog",
        "Webhook deliveries waiting for an attempt (first or retry).",
        backlog,
    )
    snapshot.gauge(
        "smartpay_webhook_delivery_lag_seconds",
        "How long the most overdue webhook delivery has been due.",
        0 if oldest_due is None else max(0, now - oldest_due),
    )
    snapshot.gauge(
        "smartpay_inbound_webhooks_pending",
        "Processor webhooks stored and waiting for the worker.",
        inbound,
    )
    return snapshot


async def render(database: Database) -> tuple[bytes, str]:
    """The body and content type of a ``/metrics`` answer."""
    if os.environ.get(MULTIPROCESS_ENV):
        process_registry = CollectorRegistry()
        MultiProcessCollector(process_registry)  # type: ignore[no-untyped-call]
    else:
        process_registry = REGISTRY
    system_registry = CollectorRegistry()
    system_registry.register(await _system_snapshot(database, int(time.time())))
    return generate_latest(process_registry) + generate_latest(system_registry), (
        CONTENT_TYPE_LATEST
    )
