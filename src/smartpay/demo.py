"""``smartpay demo``: realistic traffic through the real API, so a fresh install has
something to show — customers paying with good cards and bad ones, a few fraudulent
attempts, 3-D Secure challenges answered both ways, manual captures and refunds.

It talks HTTP to a running SmartPay with a merchant's secret key exactly as a merchant's
backend would (the same requests the Stripe SDK sends), so everything it causes —
routing, risk, ledger, events, webhooks — is the real thing.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

# What the simulated customers pay with, and how often (weights out of 100). Mostly
# cards that work, as in real traffic; Stripe's documented test cards for the rest.
CARD_MIX: tuple[tuple[str, int], ...] = (
    ("4242424242424242", 46),  # Visa, approved
    ("5555555555554444", 20),  # Mastercard, approved
    ("378282246310005", 8),  # Amex, approved
    ("4000000000009995", 6),  # insufficient_funds
    ("4000000000000002", 5),  # generic_decline
    ("4000000000009987", 2),  # lost_card
    ("4100000000000019", 3),  # fraudulent
    ("4000000000000127", 2),  # incorrect_cvc
    ("4000002760003184", 8),  # 3-D Secure required
)
CUSTOMERS = 40
MANUAL_CAPTURE_SHARE = 0.25
REFUND_SHARE = 0.08
CHALLENGE_PASS_SHARE = 0.7  # how often a customer completes a 3-D Secure challenge
# Amounts in cents: log-normal around ~$35, as basket sizes are (median e^8.2 ≈ 3,640).
AMOUNT_MU = 8.2
AMOUNT_SIGMA = 0.8
MIN_AMOUNT = 100
MAX_AMOUNT = 500_000


@dataclass(slots=True)
class DemoReport:
    outcomes: Counter[str] = field(default_factory=Counter)
    volume: int = 0  # cents captured
    errors: list[str] = field(default_factory=list)

    @property
    def payments(self) -> int:
        return sum(self.outcomes.values())


# ``smartpay serve --demo-processors`` (what ``make run`` starts): three sandbox
# processors that differ the way real ones do, so routing has something to learn. atlas:
# cheapest, weak on Amex and on large baskets; bolt: dearest, strongest but on Amex, goes
# down for a while; cedar: mid-priced and slow, the best on Amex. Fees: basis points + cents.
DEMO_OUTAGE_AFTER_SECONDS = 120  # bolt goes down two minutes after the server starts...
DEMO_OUTAGE_SECONDS = 120  # ...for two minutes, so its breaker opens and closes again


def demo_processor_environment(started_at: float) -> dict[str, str]:
    """The SMARTPAY_PROCESSORS and SMARTPAY_SANDBOX_PROFILES of the demo processors, with
    bolt's outage placed relative to ``started_at`` (unix seconds)."""
    outage_start = int(started_at) + DEMO_OUTAGE_AFTER_SECONDS
    profiles = {
        "atlas": {
            "fee_basis_points": 240,
            "fee_fixed": 25,
            "latency_ms": 40,
            "latency_p99_ms": 160,
            "approval_rate": 0.93,
            "approval_by_brand": {"amex": 0.8},
            "approval_by_amount_band": {"large": 0.9},
            "retryable_decline_share": 0.5,
            "seed": 1,
        },
        "bolt": {
            "fee_basis_points": 290,
            "fee_fixed": 30,
            "latency_ms": 60,
            "latency_p99_ms": 250,
            "approval_rate": 0.97,
            "approval_by_brand": {"amex": 0.88},
            "retryable_decline_share": 0.5,
            "outages": [{"start": outage_start, "end": outage_start + DEMO_OUTAGE_SECONDS}],
            "seed": 2,
        },
        "cedar": {
            "fee_basis_points": 270,
            "fee_fixed": 30,
            "latency_ms": 120,
            "latency_p99_ms": 600,
            "approval_rate": 0.92,
            "retryable_decline_share": 0.5,
            "seed": 3,
        },
    }
    return {
        "SMARTPAY_PROCESSORS": ",".join(profiles),
        "SMARTPAY_SANDBOX_PROFILES": json.dumps(profiles),
    }


def _card(rng: random.Random) -> str:
    numbers, weights = zip(*CARD_MIX, strict=True)
    return str(rng.choices(numbers, weights=weights)[0])


def _amount(rng: random.Random) -> int:
    return max(MIN_AMOUNT, min(MAX_AMOUNT, round(rng.lognormvariate(AMOUNT_MU, AMOUNT_SIGMA))))


async def _customers(client: httpx.AsyncClient, rng: random.Random) -> list[str]:
    ids = []
    for index in range(CUSTOMERS):
        response = await client.post(
            "/v1/customers",
            data={"email": f"customer{index}@example.com", "name": f"Demo Customer {index}"},
        )
        response.raise_for_status()
        ids.append(response.json()["id"])
    rng.shuffle(ids)
    return ids


async def one_payment(
    client: httpx.AsyncClient, rng: random.Random, customer: str, report: DemoReport
) -> None:
    """One customer's purchase, from card entry to capture or refund."""
    number = _card(rng)
    cvc_digits = 4 if number.startswith(("34", "37")) else 3  # Amex CVCs have four
    method = await client.post(
        "/v1/payment_methods",
        data={
            "type": "card",
            "card[number]": number,
            "card[exp_month]": str(rng.randint(1, 12)),
            "card[exp_year]": str(time.gmtime().tm_year + rng.randint(1, 5)),
            "card[cvc]": str(rng.randint(10 ** (cvc_digits - 1), 10**cvc_digits - 1)),
        },
    )
    if method.status_code != 200:
        report.outcomes["invalid card"] += 1
        return
    method_id = method.json()["id"]
    manual = rng.random() < MANUAL_CAPTURE_SHARE
    amount = _amount(rng)
    intent = await client.post(
        "/v1/payment_intents",
        data={
            "amount": str(amount),
            "currency": "usd",
            "customer": customer,
            "payment_method": method_id,
            "confirm": "true",
            "capture_method": "manual" if manual else "automatic",
            "description": f"Demo order {rng.randint(10_000, 99_999)}",
        },
    )
    body = intent.json()
    if intent.status_code == 402:
        report.outcomes[f"declined: {body['error'].get('decline_code') or 'declined'}"] += 1
        return
    if intent.status_code != 200:
        report.outcomes[f"error {intent.status_code}"] += 1
        report.errors.append(f"{intent.status_code}: {body.get('error', {}).get('message')}")
        return
    status = body["status"]
    if status == "requires_action":
        passed = rng.random() < CHALLENGE_PASS_SHARE
        url = body["next_action"]["redirect_to_url"]["url"]
        page = httpx.URL(url).path
        await client.post(f"{page}/complete", data={"result": "succeed" if passed else "fail"})
        body = (await client.get(f"/v1/payment_intents/{body['id']}")).json()
        status = body["status"]
        if status != "succeeded" and status != "requires_capture":
            report.outcomes["3-D Secure failed"] += 1
            return
    if status == "requires_capture":
        capture = await client.post(f"/v1/payment_intents/{body['id']}/capture")
        body = capture.json()
        status = body.get("status", status)
    if status != "succeeded":
        report.outcomes[status] += 1
        return
    report.volume += body["amount_received"]
    if rng.random() < REFUND_SHARE:
        partial = rng.random() < 0.5
        refund = {"payment_intent": body["id"]}
        if partial:
            refund["amount"] = str(max(1, body["amount_received"] // 2))
        await client.post("/v1/refunds", data=refund)
        report.outcomes["succeeded, then refunded"] += 1
        return
    report.outcomes["succeeded"] += 1


async def _guarded(
    client: httpx.AsyncClient, rng: random.Random, customer: str, report: DemoReport
) -> None:
    try:
        await one_payment(client, rng, customer, report)
    except httpx.HTTPError as exc:  # the server went away or timed out: count, go on
        report.outcomes["unreachable"] += 1
        report.errors.append(f"{type(exc).__name__}: {exc}")


async def run_demo(
    client: httpx.AsyncClient,
    *,
    duration_seconds: float,
    rate_per_second: float,
    seed: int | None = None,
    on_tick: Callable[[float], None] | None = None,
) -> DemoReport:
    """Send payments at ``rate_per_second`` for ``duration_seconds``; ``on_tick`` gets
    the elapsed share (0–1) for a progress bar."""
    rng = random.Random(seed)  # noqa: S311 - simulated traffic, seedable on purpose
    report = DemoReport()
    customers = await _customers(client, rng)
    started = time.monotonic()
    in_flight: set[asyncio.Task[Any]] = set()
    sent = 0
    while (elapsed := time.monotonic() - started) < duration_seconds:
        due = int(elapsed * rate_per_second) + 1
        while sent < due:
            task = asyncio.create_task(_guarded(client, rng, rng.choice(customers), report))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
            sent += 1
        if on_tick:
            on_tick(min(1.0, elapsed / duration_seconds))
        await asyncio.sleep(min(0.1, 1 / rate_per_second))
    if in_flight:
        await asyncio.gather(*in_flight, return_exceptions=True)
    if on_tick:
        on_tick(1.0)
    return report
