"""A seeded, generated data set of payments written straight into the tables, and the
figures every report section should show for it, computed here in plain Python from
the same rows (the report computes them in SQL)."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from smartpay.kit.db import Database
from smartpay.payments.models import charges, payment_attempts, payment_intents, refunds

PROCESSORS = ("sandbox", "sandbox_eu", "sandbox_cheap")
BRANDS = ("visa", "mastercard", "amex")
CURRENCIES = ("usd", "eur", "jpy")
DECLINES = (
    ("card_declined", "insufficient_funds"),
    ("card_declined", "generic_decline"),
    ("expired_card", "expired_card"),
)
START = 1_767_225_600  # 2026-01-01 00:00 UTC
DAY = 86_400


@dataclass
class Dataset:
    intents: list[dict[str, Any]] = field(default_factory=list)
    charges: list[dict[str, Any]] = field(default_factory=list)
    attempts: list[dict[str, Any]] = field(default_factory=list)
    refunds: list[dict[str, Any]] = field(default_factory=list)

    def of(self, merchant_id: str, start: int | None = None, end: int | None = None) -> Dataset:
        """The rows of one merchant in [start, end)."""

        def keep(row: dict[str, Any], time_key: str) -> bool:
            when = row[time_key]
            return (
                row["merchant_id"] == merchant_id
                and (start is None or when >= start)
                and (end is None or when < end)
            )

        return Dataset(
            [r for r in self.intents if keep(r, "created")],
            [r for r in self.charges if keep(r, "created")],
            [r for r in self.attempts if keep(r, "started_at")],
            [r for r in self.refunds if keep(r, "created")],
        )


def generate(merchants: list[str], payments: int, seed: int) -> Dataset:
    rng = random.Random(seed)
    data = Dataset()
    for index in range(payments):
        merchant = merchants[index % len(merchants)]
        currency = rng.choice(CURRENCIES)
        amount = rng.randint(100, 50_000)
        created = START + rng.randint(0, 30 * DAY)
        intent_id, charge_id = f"pi_gen{index:05d}", f"ch_gen{index:05d}"
        outcome = rng.choices(("succeeded", "failed", "pending"), (70, 25, 5))[0]
        processors = rng.sample(PROCESSORS, rng.choice((1, 1, 1, 2)))  # some cascade
        brand = rng.choice(BRANDS)
        decline = rng.choice(DECLINES) if outcome == "failed" else (None, None)
        captured = amount if outcome == "succeeded" else 0
        refunded = 0
        if outcome == "succeeded" and rng.random() < 0.3:
            refund_status = rng.choice(("succeeded", "succeeded", "pending", "failed"))
            refund_amount = rng.randint(1, amount)
            if refund_status == "succeeded":
                refunded = refund_amount
            data.refunds.append(
                {
                    "id": f"re_gen{index:05d}",
                    "merchant_id": merchant,
                    "charge_id": charge_id,
                    "payment_intent_id": intent_id,
                    "amount": refund_amount,
                    "currency": currency,
                    "status": refund_status,
                    "reason": rng.choice((None, "requested_by_customer", "duplicate")),
                    "metadata": {},
                    "created": created + rng.randint(0, 3 * DAY),
                }
            )
        intent_status = {
            "succeeded": "succeeded",
            "failed": "requires_payment_method",
            "pending": "processing",
        }[outcome]
        data.intents.append(
            {
                "id": intent_id,
                "merchant_id": merchant,
                "amount": amount,
                "currency": currency,
                "status": intent_status,
                "capture_method": "automatic",
                "metadata": {},
                "amount_capturable": 0,
                "amount_received": captured,
                "client_secret": f"{intent_id}_secret",
                "created": created,
            }
        )
        data.charges.append(
            {
                "id": charge_id,
                "merchant_id": merchant,
                "payment_intent_id": intent_id,
                "payment_method_id": f"pm_gen{index:05d}",
                "amount": amount,
                "amount_captured": captured,
                "amount_refunded": refunded,
                "currency": currency,
                "status": outcome,
                "captured": outcome == "succeeded",
                "failure_code": decline[0],
                "outcome": {"reason": decline[1]} if outcome != "pending" else None,
                "card": {"brand": brand, "last4": "0000"},
                "processor": processors[-1],
                "fee": amount * 3 // 100 if outcome == "succeeded" else 0,
                "metadata": {},
                "created": created,
            }
        )
        for position, processor in enumerate(processors):
            last = position == len(processors) - 1
            status = {"succeeded": "succeeded", "failed": "declined", "pending": "unknown"}[outcome]
            latency = rng.randint(5, 2_000) / 1000
            data.attempts.append(
                {
                    "id": f"pa_gen{index:05d}_{position}",
                    "merchant_id": merchant,
                    "payment_intent_id": intent_id,
                    "charge_id": charge_id,
                    "operation": "authorize",
                    "processor": processor,
                    "idempotency_key": f"pa_gen{index:05d}_{position}",
                    "amount": amount,
                    "currency": currency,
                    "capture": True,
                    "status": status if last else "failed",
                    "fee": 0,
                    "started_at": float(created),
                    "finished_at": None if status == "unknown" and last else created + latency,
                }
            )
    return data


async def store(database: Database, data: Dataset) -> None:
    async with database.transaction() as session:
        for table, rows in (
            (payment_intents, data.intents),
            (charges, data.charges),
            (payment_attempts, data.attempts),
            (refunds, data.refunds),
        ):
            if rows:
                await session.execute(sa.insert(table), rows)


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def expected_by_status(data: Dataset) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for row in data.intents:
        group = groups[(row["currency"], row["status"])]
        group[0] += 1
        group[1] += row["amount"]
    return [
        {"status": status, "currency": currency, "count": n, "amount": amount}
        for (currency, status), (n, amount) in sorted(groups.items())
    ]


def expected_charge_groups(data: Dataset, key: str | None) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in data.charges:
        value = (
            row["currency"] if key is None else row["card"]["brand"] if key == "brand" else row[key]
        )
        groups[(value, row["currency"])].append(row)
    out = []
    for (value, currency), rows in sorted(groups.items()):
        statuses = Counter(r["status"] for r in rows)
        group: dict[str, Any] = {} if key is None else {key: value}
        group.update(
            currency=currency,
            count=len(rows),
            succeeded=statuses["succeeded"],
            failed=statuses["failed"],
            pending=statuses["pending"],
            amount=sum(r["amount"] for r in rows),
            amount_succeeded=sum(r["amount"] for r in rows if r["status"] == "succeeded"),
            amount_captured=sum(r["amount_captured"] for r in rows),
            amount_refunded=sum(r["amount_refunded"] for r in rows),
            fees=sum(r["fee"] for r in rows),
            approval_rate=rate(statuses["succeeded"], statuses["succeeded"] + statuses["failed"]),
        )
        out.append(group)
    return out


def expected_declines(data: Dataset) -> Counter[tuple[str, str]]:
    return Counter(
        (r["failure_code"], r["outcome"]["reason"]) for r in data.charges if r["status"] == "failed"
    )


def expected_routing(data: Dataset) -> dict[str, dict[str, Any]]:
    per: dict[str, Counter[str]] = defaultdict(Counter)
    for row in data.attempts:
        per[row["processor"]][row["status"]] += 1
    total = len(data.attempts)
    out = {}
    for processor, statuses in per.items():
        attempts = sum(statuses.values())
        out[processor] = {
            "attempts": attempts,
            "share": rate(attempts, total),
            "succeeded": statuses["succeeded"],
            "declined": statuses["declined"],
            "failed": statuses["failed"],
            "unknown": statuses["unknown"],
            "approval_rate": rate(
                statuses["succeeded"], statuses["succeeded"] + statuses["declined"]
            ),
        }
    return out


def nearest_rank(values: list[float], percentile: int) -> float:
    ordered = sorted(values)
    rank = -(-percentile * len(ordered) // 100)  # ceil
    return ordered[rank - 1]
