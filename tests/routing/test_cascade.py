"""Routing inside a confirmation: the cascade, its limits, the routing details, outages
and what is learned, through the API with sandbox processors."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import sqlalchemy as sa

from smartpay.connectors.sandbox import SandboxConnector
from smartpay.kit import clock
from smartpay.payments.models import payment_attempts
from smartpay.payments.reconcile import reconcile
from smartpay.routing.models import routing_stats
from tests.api.helpers import card, pay
from tests.conftest import Api

SOFT_THEN_GOOD = json.dumps(
    {"soft": {"approval_rate": 0.0, "retryable_decline_share": 1.0}, "good": {}}
)
DECLINES_FOR_GOOD = json.dumps({"soft": {"approval_rate": 0.0}, "good": {}})
UNKNOWN_THEN_GOOD = json.dumps({"slow": {"timeout_rate": 1.0}, "good": {}})
THREE_SOFT = json.dumps(
    {
        "s1": {"approval_rate": 0.0, "retryable_decline_share": 1.0},
        "s2": {"approval_rate": 0.0, "retryable_decline_share": 1.0},
        "s3": {},
    }
)
STOLEN = "4000000000009979"


def _connector(api: Api, name: str) -> SandboxConnector:
    connector = api.app.state.connectors.get(name)  # type: ignore[attr-defined]
    assert isinstance(connector, SandboxConnector)
    return connector


async def _attempts(api: Api, intent_id: str) -> list[Any]:
    database = api.app.state.database  # type: ignore[attr-defined]
    async with database.transaction() as session:
        query = (
            sa.select(payment_attempts)
            .where(payment_attempts.c.payment_intent_id == intent_id)
            .order_by(payment_attempts.c.started_at)
        )
        return list(await session.execute(query))


async def _priority(api: Api, *processors: str) -> None:
    response = await api.client.post(
        "/v1/routing/config",
        json={"strategy": "priority", "processors": list(processors)},
        headers=api.auth(),
    )
    assert response.status_code == 200, response.text


@pytest.mark.settings(processors="soft,good", sandbox_profiles=SOFT_THEN_GOOD)
async def test_retryable_soft_decline_cascades_to_the_next_processor(api: Api) -> None:
    await _priority(api, "soft", "good")
    response = await pay(api)
    assert response.status_code == 200, response.text
    intent = response.json()
    assert intent["status"] == "succeeded"
    attempts = await _attempts(api, intent["id"])
    assert [(a.processor, a.status, a.decline_code) for a in attempts] == [
        ("soft", "declined", "try_again_later"),
        ("good", "succeeded", None),
    ]
    # Each attempt says why its processor was chosen; the intent shows the whole story.
    assert attempts[0].routing["method"] == "priority" and attempts[0].routing["position"] == 0
    assert attempts[1].routing["position"] == 1
    routing = intent["routing"]
    assert routing["ranked"] == ["soft", "good"]
    assert [step["processor"] for step in routing["attempts"]] == ["soft", "good"]
    assert routing["attempts"][0]["outcome"] == "try_again_later"
    assert set(routing["breakers"]) == {"soft", "good"}
    charge = (await api.get(f"/v1/charges/{intent['latest_charge']}")).json()
    assert charge["captured"] is True
    # SmartPay's attempts and both processors' books agree, declined attempt included.
    state = api.app.state  # type: ignore[attr-defined]
    assert await reconcile(state.database, state.connectors) == []


@pytest.mark.settings(processors="soft,good", sandbox_profiles=DECLINES_FOR_GOOD)
async def test_no_cascade_after_a_soft_decline_that_is_not_retryable(api: Api) -> None:
    await _priority(api, "soft", "good")
    response = await pay(api)
    assert response.status_code == 402
    assert response.json()["error"]["decline_code"] == "do_not_honor"
    assert await _connector(api, "good").records() == []


@pytest.mark.settings(processors="soft,good", sandbox_profiles=SOFT_THEN_GOOD)
async def test_never_cascades_after_a_hard_decline(api: Api) -> None:
    await _priority(api, "good", "soft")
    response = await pay(api, number=STOLEN)
    assert response.status_code == 402
    assert response.json()["error"]["decline_code"] == "stolen_card"
    assert len(await _connector(api, "good").records()) == 1
    assert await _connector(api, "soft").records() == []


@pytest.mark.settings(processors="slow,good", sandbox_profiles=UNKNOWN_THEN_GOOD)
async def test_never_cascades_while_an_outcome_is_unknown(api: Api) -> None:
    await _priority(api, "slow", "good")
    response = await pay(api)
    assert response.status_code == 200
    intent = response.json()
    assert intent["status"] == "processing"
    assert await _connector(api, "good").records() == []  # nobody else was asked
    attempts = await _attempts(api, intent["id"])
    assert [(a.processor, a.status) for a in attempts] == [("slow", "unknown")]
    flows = api.app.state.payment_flows  # type: ignore[attr-defined]
    assert await flows.resolve_open_attempts() == 1
    after = (await api.get(f"/v1/payment_intents/{intent['id']}")).json()
    assert after["status"] == "succeeded"


@pytest.mark.settings(processors="s1,s2,s3", sandbox_profiles=THREE_SOFT, routing_max_attempts=2)
async def test_cascade_stops_at_the_attempt_limit(api: Api) -> None:
    await _priority(api, "s1", "s2", "s3")
    response = await pay(api)
    assert response.status_code == 402
    intent = response.json()["error"]["payment_intent"]
    attempts = await _attempts(api, intent["id"])
    assert [a.processor for a in attempts] == ["s1", "s2"]
    assert await _connector(api, "s3").records() == []


@pytest.mark.settings(
    processors="s1,s2,s3", sandbox_profiles=THREE_SOFT, routing_time_budget_seconds=0.000001
)
async def test_cascade_stops_when_the_time_budget_is_spent(api: Api) -> None:
    await _priority(api, "s1", "s2", "s3")
    response = await pay(api)
    assert response.status_code == 402
    assert await _connector(api, "s2").records() == []


# An hour from now: the test moves the sandbox's clock across it (cards stay unexpired).
OUTAGE_AT = int(time.time()) + 3600
MID_RUN_OUTAGE = json.dumps(
    {
        "primary": {"outages": [{"start": OUTAGE_AT, "end": OUTAGE_AT + 3600}]},
        "backup": {},
    }
)


@pytest.mark.settings(
    processors="primary,backup",
    sandbox_profiles=MID_RUN_OUTAGE,
    routing_breaker_min_calls=5,
    routing_breaker_cooldown_seconds=3600,
)
async def test_outage_mid_run_fails_no_payment_and_opens_the_breaker(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _priority(api, "primary", "backup")
    monkeypatch.setattr(clock, "now", lambda: OUTAGE_AT - 100)
    statuses = [(await pay(api)).json()["status"] for _ in range(5)]
    monkeypatch.setattr(clock, "now", lambda: OUTAGE_AT + 1)  # primary goes down mid-run
    statuses += [(await pay(api)).json()["status"] for _ in range(15)]
    assert statuses == ["succeeded"] * 20  # backup approved everything primary could not
    # After min_calls failures the breaker opened: primary was not even tried any more.
    primary_calls = len(await _connector(api, "primary").records())
    assert primary_calls == 5  # the outage refuses before recording anything
    backup = await _connector(api, "backup").records()
    assert len(backup) == 15
    events = (await api.get("/v1/events", params={"type": "routing.breaker.open"})).json()
    assert [e["data"]["object"]["processor"] for e in events["data"]] == ["primary"]
    intent = (await pay(api)).json()
    assert intent["routing"]["skipped"] == {"primary": "breaker open"}
    assert intent["routing"]["ranked"] == ["backup"]
    metrics = (await api.client.get("/metrics")).text
    assert 'smartpay_routing_breaker_state{processor="primary",state="open"} 1.0' in metrics
    assert 'smartpay_routing_breaker_state{processor="primary",state="closed"} 0.0' in metrics
    assert 'smartpay_routing_attempts{processor="primary"} 10.0' in metrics  # 5 + 5 refused
    assert 'smartpay_routing_attempts{processor="backup"} 16.0' in metrics


async def _stats(api: Api) -> dict[tuple[str, str], Any]:
    await api.app.state.routing.flush()  # type: ignore[attr-defined]
    database = api.app.state.database  # type: ignore[attr-defined]
    async with database.transaction() as session:
        rows = await session.execute(sa.select(routing_stats))
        return {(row.processor, row.segment): row for row in rows}


async def test_card_caused_declines_do_not_count_against_the_processor(api: Api) -> None:
    for number in (STOLEN, "4000000000009987", "4100000000000019", "4000000000000069"):
        assert (await pay(api, number=number)).status_code == 402
    pooled = (await _stats(api))[("sandbox", "*")]
    assert pooled.successes == 0 and pooled.failures == 0
    assert pooled.latency_samples == 4  # latency is still measured
    assert (await pay(api, number="4000000000000002")).status_code == 402  # generic decline
    assert (await pay(api)).status_code == 200
    pooled = (await _stats(api))[("sandbox", "*")]
    assert pooled.failures == pytest.approx(1.0, abs=0.01)
    assert pooled.successes == pytest.approx(1.0, abs=0.01)
    segment = (await _stats(api))[("sandbox", "visa:US:medium:usd")]
    assert segment.successes == pytest.approx(1.0, abs=0.01)


@pytest.mark.settings(processors="soft,good", sandbox_profiles=SOFT_THEN_GOOD)
async def test_confirm_of_an_existing_intent_is_routed_too(api: Api) -> None:
    await _priority(api, "soft", "good")
    method = await card(api)
    intent = (
        await api.post(
            "/v1/payment_intents",
            {"amount": "700", "currency": "usd", "payment_method": method["id"]},
        )
    ).json()
    assert intent["routing"] is None
    confirmed = (await api.post(f"/v1/payment_intents/{intent['id']}/confirm")).json()
    assert confirmed["status"] == "succeeded"
    assert [step["processor"] for step in confirmed["routing"]["attempts"]] == ["soft", "good"]


async def test_a_failing_statistics_store_never_fails_a_payment(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    routing = api.app.state.routing  # type: ignore[attr-defined]

    async def broken(*args: object, **kwargs: object) -> None:
        raise ConnectionError("statistics store down")

    monkeypatch.setattr(routing, "observe", broken)
    response = await pay(api)
    assert response.status_code == 200 and response.json()["status"] == "succeeded"
