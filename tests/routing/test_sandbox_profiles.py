"""The sandbox profiles routing is exercised with: approval by brand, country and amount
band, latency distributions, outage schedules; and the old profile fields unchanged."""

from __future__ import annotations

import json
import random

import pytest

from smartpay import errors
from smartpay.config import Settings
from smartpay.connectors.base import AuthorizeRequest, AuthOutcome, CardData
from smartpay.connectors.facts import amount_band, issuer_country
from smartpay.connectors.sandbox import SandboxConnector, SandboxProfile, parse_profiles
from smartpay.kit import clock
from smartpay.kit.db import Database

GERMAN_VISA = "4000002760000016"
US_VISA = "4242424242424242"


def _request(number: str, key: str, amount: int = 2_000, currency: str = "eur") -> AuthorizeRequest:
    return AuthorizeRequest(
        idempotency_key=key,
        merchant_id="acct_1",
        amount=amount,
        currency=currency,
        card=CardData(number, 12, 2040),
        capture=True,
    )


def test_facts() -> None:
    assert issuer_country(GERMAN_VISA) == "DE"
    assert issuer_country(US_VISA) == "US"
    assert issuer_country("4000000760000002") == "BR"
    assert issuer_country("5555555555554444") is None
    assert amount_band(1_999, "usd") == "small"
    assert amount_band(2_000, "usd") == "medium"
    assert amount_band(20_000, "usd") == "large"
    # Bands are in major units of the payment's own currency, without FX (README).
    assert amount_band(1_999, "jpy") == "large"
    assert amount_band(19, "jpy") == "small"


def test_profiles_parse_new_and_old_keys() -> None:
    raw = {
        "old": {"latency_ms": 5, "failure_rate": 0.1, "fee_basis_points": 150, "seed": 3},
        "new": {
            "approval_rate": 0.9,
            "approval_by_brand": {"amex": 0.5},
            "approval_by_country": {"DE": 0.8},
            "approval_by_amount_band": {"large": 0.7},
            "retryable_decline_share": 0.2,
            "latency_ms": 100,
            "latency_p99_ms": 400,
            "outages": [{"start": 10, "end": 20}],
        },
    }
    old, new = parse_profiles(Settings(sandbox_profiles=json.dumps(raw)))
    assert old == SandboxProfile(
        "old", latency_ms=5, failure_rate=0.1, fee_basis_points=150, seed=3
    )
    assert new.approval_probability("amex", "DE", "large") == pytest.approx(0.9 * 0.5 * 0.8 * 0.7)
    assert new.approval_probability("visa", "US", "small") == pytest.approx(0.9)
    assert new.fault_rates(15) == (1.0, 0.0) and new.fault_rates(20) == (0.0, 0.0)
    rng = random.Random(1)
    draws = sorted(new.draw_latency_ms(rng) for _ in range(2_000))
    assert 80 < draws[1_000] < 125 and 300 < draws[1_980] < 550  # median 100, p99 ~400


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"approval_rate": 1.5}, "approval_rate"),
        ({"approval_by_amount_band": {"huge": 0.5}}, "unknown bands"),
        ({"approval_by_country": {"DE": -1}}, "approval_by_country"),
        ({"outages": [{"start": 10}]}, "start and end"),
        ({"outages": [{"start": 20, "end": 10}]}, "outage end"),
        ({"latency_p99_ms": 5}, "latency_p99_ms"),
    ],
)
def test_bad_profiles_say_what_is_wrong(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_profiles(Settings(sandbox_profiles=json.dumps({"p": options})))


async def test_approval_by_country_and_retryable_declines(database: Database) -> None:
    profile = SandboxProfile(
        "eu_weak", approval_by_country={"DE": 0.0}, retryable_decline_share=1.0, seed=1
    )
    connector = SandboxConnector(profile, database)
    german = await connector.authorize(_request(GERMAN_VISA, "k1"))
    assert german.outcome is AuthOutcome.DECLINED
    assert german.decline_code == "try_again_later"
    us = await connector.authorize(_request(US_VISA, "k2"))
    assert us.outcome is AuthOutcome.APPROVED
    # Test cards keep their scripted answers.
    stolen = await connector.authorize(_request("4000000000009979", "k3"))
    assert stolen.decline_code == "stolen_card"


async def test_outage_schedule(database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    start = clock.now() + 100
    profile = SandboxProfile("down_later", outages=(_outage(start, start + 10),))
    connector = SandboxConnector(profile, database)
    assert (await connector.authorize(_request(US_VISA, "k1"))).outcome is AuthOutcome.APPROVED
    monkeypatch.setattr(clock, "now", lambda: start + 5)
    with pytest.raises(errors.ProcessorUnavailable):
        await connector.authorize(_request(US_VISA, "k2"))
    assert await connector.lookup("k2") is None  # refused before anything was recorded


def _outage(start: int, end: int):  # type: ignore[no-untyped-def]
    from smartpay.connectors.sandbox.connector import Outage

    return Outage(start, end)
