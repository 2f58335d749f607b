"""/metrics: request latency per route template, and system figures read from the
database (payments, approval rate per processor, webhook backlog and lag)."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from smartpay.kit.db import Database
from tests.api.helpers import pay
from tests.conftest import Api
from tests.webhooks.helpers import Clock, create_endpoint, dispatcher, raise_events


async def _samples(
    api: Api, **kwargs: object
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await api.client.get("/metrics", **kwargs)  # type: ignore[arg-type]
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


async def test_payments_and_approval_rate_per_processor(api: Api) -> None:
    for _ in range(3):
        assert (await pay(api)).status_code == 200
    assert (await pay(api, number="4000000000009995")).status_code == 402
    samples = await _samples(api)
    assert samples[("smartpay_payment_intents", (("status", "succeeded"),))] == 3
    assert samples[("smartpay_payment_intents", (("status", "requires_payment_method"),))] == 1
    assert (
        samples[("smartpay_recent_charges", (("processor", "sandbox"), ("status", "failed")))] == 1
    )
    assert samples[("smartpay_processor_approval_rate", (("processor", "sandbox"),))] == 0.75
    assert samples[("smartpay_payment_attempts_open", ())] == 0
    # A new merchant's payments are scored and allowed (the default bands wait for history).
    assert samples[("smartpay_risk_decisions", (("decision", "allow"),))] == 4


async def test_request_latency_is_labelled_by_route_template_not_by_id(api: Api) -> None:
    intent = (await pay(api)).json()
    await api.get(f"/v1/payment_intents/{intent['id']}")
    await api.get("/v1/payment_intents/pi_doesnotexist")
    samples = await _samples(api)
    template = "/v1/payment_intents/{intent_id}"
    ok = (
        "smartpay_http_request_duration_seconds_count",
        (("method", "GET"), ("route", template), ("status", "200")),
    )
    missing = (
        "smartpay_http_request_duration_seconds_count",
        (("method", "GET"), ("route", template), ("status", "404")),
    )
    assert samples[ok] >= 1 and samples[missing] >= 1
    assert not any(intent["id"] in str(labels) for _, labels in samples)


@pytest.mark.settings(webhook_allow_loopback=True)
async def test_webhook_backlog_and_lag(api: Api, database: Database) -> None:
    await create_endpoint(api, "http://127.0.0.1:9/hook")
    await raise_events(database, api.keys.merchant_id, 4)
    samples = await _samples(api)
    # Fan-out has not run yet: the worker's queue holds the events.
    assert samples[("smartpay_events_not_fanned_out", ())] == 4
    assert samples[("smartpay_webhook_backlog", ())] == 0
    # Fanned out two minutes ago (the worker's clock), so due for two minutes now.
    clock = Clock()
    clock.advance(-120)
    async with dispatcher(api.app, clock) as worker:
        assert await worker.fan_out() == 4
    samples = await _samples(api)
    assert samples[("smartpay_events_not_fanned_out", ())] == 0
    assert samples[("smartpay_webhook_backlog", ())] == 4
    assert 119 <= samples[("smartpay_webhook_delivery_lag_seconds", ())] <= 130


@pytest.mark.settings(metrics_token="scrape-secret-123")
async def test_metrics_token_is_required_when_set(api: Api) -> None:
    refused = await api.client.get("/metrics")
    assert refused.status_code == 401
    assert refused.json()["error"]["type"] == "invalid_request_error"
    await _samples(api, headers={"Authorization": "Bearer scrape-secret-123"})


async def test_llm_calls_are_timed_by_provider_and_outcome() -> None:
    import asyncio

    from prometheus_client import REGISTRY

    from smartpay.llm.base import LlmTimeout
    from smartpay.llm.common import within_deadline

    def count(outcome: str) -> float:
        value = REGISTRY.get_sample_value(
            "smartpay_llm_call_duration_seconds_count",
            {"provider": "metrics-test", "outcome": outcome},
        )
        return value or 0.0

    before = {outcome: count(outcome) for outcome in ("ok", "timeout", "error")}

    async def answer() -> str:
        return "fine"

    async def hang() -> str:
        await asyncio.sleep(10)
        return "late"

    async def fail() -> str:
        raise ConnectionError("refused")

    assert await within_deadline(1.0, "metrics-test", answer) == "fine"
    with pytest.raises(LlmTimeout):
        await within_deadline(0.01, "metrics-test", hang)
    with pytest.raises(ConnectionError):
        await within_deadline(1.0, "metrics-test", fail)
    assert {outcome: count(outcome) - before[outcome] for outcome in before} == {
        "ok": 1.0,
        "timeout": 1.0,
        "error": 1.0,
    }
