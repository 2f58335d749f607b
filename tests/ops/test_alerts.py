"""Alerts fire once when a threshold is crossed and resolve once when it clears:
per-merchant payment failure rate (an event, so a webhook), and platform-wide HTTP error
rate, p99 latency and webhook backlog (log lines)."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import CollectorRegistry, Histogram

from smartpay.ops.alerts import (
    HTTP_ERROR_RATE,
    HTTP_P99_LATENCY,
    PAYMENT_FAILURE_RATE,
    WEBHOOK_BACKLOG,
    AlertMonitor,
)
from smartpay.ops.metrics import HTTP_REQUEST_SECONDS, LATENCY_BUCKETS
from tests.api.helpers import pay
from tests.conftest import Api
from tests.webhooks.helpers import Clock, create_endpoint, dispatcher, raise_events


def _monitor(api: Api, clock: Clock, registry: CollectorRegistry | None = None) -> AlertMonitor:
    platform = api.app.state.platform  # type: ignore[attr-defined]
    return AlertMonitor(
        platform.database, platform.settings, registry=registry or CollectorRegistry(), now=clock
    )


async def _events(api: Api, key: str | None = None) -> list[dict[str, object]]:
    response = await api.get("/v1/events", params={"limit": "100"}, key=key)
    return [e for e in response.json()["data"] if str(e["type"]).startswith("alert.")]


@pytest.mark.settings(alert_min_samples=5)
async def test_failure_rate_alert_fires_once_then_resolves(api: Api) -> None:
    clock = Clock()
    for _ in range(4):
        assert (await pay(api)).status_code == 200
    for _ in range(2):
        assert (await pay(api, number="4000000000000002")).status_code == 402
    monitor = _monitor(api, clock)
    changed = await monitor.run_round()
    assert [(r.alert, r.merchant_id) for r in changed] == [
        (PAYMENT_FAILURE_RATE, api.keys.merchant_id)
    ]
    assert changed[0].value == pytest.approx(2 / 6)
    assert await monitor.run_round() == []  # still failing: not reported again
    [triggered] = await _events(api)
    assert triggered["type"] == "alert.triggered"
    assert triggered["data"]["object"]["alert"] == PAYMENT_FAILURE_RATE  # type: ignore[index]
    assert await _events(api, key=api.other.secret_key) == []  # not another merchant's

    # Well past the window (a minute of margin over second-rounded timestamps).
    clock.advance(api.app.state.platform.settings.alert_window_seconds + 60)  # type: ignore[attr-defined]
    changed = await monitor.run_round()
    assert len(changed) == 1, (changed, monitor.firing)
    [resolved] = changed
    assert not resolved.firing
    assert [e["type"] for e in await _events(api)] == ["alert.resolved", "alert.triggered"]


@pytest.mark.settings(alert_min_samples=10)
async def test_too_few_payments_are_not_judged(api: Api) -> None:
    for _ in range(3):
        await pay(api, number="4000000000000002")
    assert await _monitor(api, Clock()).run_round() == []


@pytest.mark.settings(alert_min_samples=20, alert_window_seconds=60)
async def test_http_error_rate_and_p99_latency(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    registry = CollectorRegistry()
    requests = Histogram(
        HTTP_REQUEST_SECONDS._name,
        "test copy of the request histogram",
        ["method", "route", "status"],
        buckets=LATENCY_BUCKETS,
        registry=registry,
    )
    clock = Clock()
    monitor = _monitor(api, clock, registry)
    for _ in range(100):  # history from before the window: healthy
        requests.labels("GET", "/v1/charges", "200").observe(0.01)
    assert await monitor.run_round() == []  # the first round only takes a baseline
    clock.advance(30)
    for _ in range(25):
        requests.labels("POST", "/v1/payment_intents", "200").observe(0.02)
    for _ in range(5):
        requests.labels("POST", "/v1/payment_intents", "502").observe(3.0)
    with caplog.at_level(logging.WARNING, logger="smartpay.alerts"):
        changed = {r.alert: r for r in await monitor.run_round()}
    assert set(changed) == {HTTP_ERROR_RATE, HTTP_P99_LATENCY}
    assert changed[HTTP_ERROR_RATE].value == pytest.approx(5 / 30)
    assert changed[HTTP_P99_LATENCY].value == 5.0  # the bucket holding the slowest 1 %
    assert "alert http_error_rate triggered" in caplog.text

    clock.advance(61)  # the bad minute leaves the window; healthy traffic since
    for _ in range(40):
        requests.labels("GET", "/v1/charges", "200").observe(0.01)
    resolved = {r.alert for r in await monitor.run_round() if not r.firing}
    assert resolved == {HTTP_ERROR_RATE, HTTP_P99_LATENCY}


@pytest.mark.settings(webhook_allow_loopback=True, alert_webhook_backlog=2)
async def test_webhook_backlog(api: Api) -> None:
    clock = Clock()
    await create_endpoint(api, "http://127.0.0.1:9/hook")
    await raise_events(api.app.state.platform.database, api.keys.merchant_id, 4)  # type: ignore[attr-defined]
    monitor = _monitor(api, clock)
    assert await monitor.run_round() == []
    async with dispatcher(api.app, clock) as worker:
        await worker.fan_out()
    [reading] = await monitor.run_round()
    assert (reading.alert, reading.value, reading.merchant_id) == (WEBHOOK_BACKLOG, 4, None)
