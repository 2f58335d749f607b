"""``smartpay demo``'s traffic: a mix of approvals, declines, 3-D Secure, captures and
refunds through the real API, every outcome accounted for."""

from __future__ import annotations

import httpx

from smartpay.demo import run_demo
from tests.conftest import Api


async def test_demo_traffic_goes_through_the_real_api(api: Api) -> None:
    ticks: list[float] = []
    transport = httpx.ASGITransport(app=api.app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers=api.auth()
    ) as client:
        report = await run_demo(
            client, duration_seconds=3, rate_per_second=20, seed=7, on_tick=ticks.append
        )
        intents = (await client.get("/v1/payment_intents", params={"limit": "100"})).json()
        refunds = (await client.get("/v1/refunds", params={"limit": "100"})).json()
    assert report.errors == []
    assert report.payments >= 40
    assert report.outcomes["succeeded"] > report.payments / 2
    assert any(outcome.startswith("declined") for outcome in report.outcomes)
    assert ticks[-1] == 1.0 and ticks == sorted(ticks)
    statuses = {intent["status"] for intent in intents["data"]}
    assert "succeeded" in statuses and "requires_payment_method" in statuses
    refunded = report.outcomes["succeeded, then refunded"]
    assert len(refunds["data"]) == refunded
    assert report.volume > 0


def test_demo_processors_differ_and_one_goes_down_for_a_while(tmp_path: object) -> None:
    from smartpay.config import Settings
    from smartpay.connectors.registry import build_registry
    from smartpay.demo import (
        DEMO_OUTAGE_AFTER_SECONDS,
        DEMO_OUTAGE_SECONDS,
        demo_processor_environment,
    )
    from smartpay.kit.db import Database

    started = 1_800_000_000.0
    environment = demo_processor_environment(started)
    settings = Settings(
        processors=environment["SMARTPAY_PROCESSORS"],
        sandbox_profiles=environment["SMARTPAY_SANDBOX_PROFILES"],
    )
    registry = build_registry(settings, Database("sqlite+aiosqlite:///:memory:"))
    assert registry.names == ["atlas", "bolt", "cedar"]
    profiles = {name: registry.get(name).profile for name in registry.names}  # type: ignore[attr-defined]
    assert len({(p.fee_basis_points, p.fee_fixed) for p in profiles.values()}) == 3
    assert len({p.latency_ms for p in profiles.values()}) == 3
    (outage,) = profiles["bolt"].outages
    assert not outage.covers(started + 1)
    assert outage.covers(started + DEMO_OUTAGE_AFTER_SECONDS + 1)
    assert not outage.covers(started + DEMO_OUTAGE_AFTER_SECONDS + DEMO_OUTAGE_SECONDS)
    assert profiles["atlas"].outages == () and profiles["cedar"].outages == ()
