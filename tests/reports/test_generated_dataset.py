"""Report figures checked against a known generated data set: 600 seeded payments of two
merchants in three currencies, three processors and three card brands, with declines,
cascades, refunds and unknown outcomes. Each section must equal what plain Python
computes from the same rows, for the whole time and for a sub-period, and never include
the other merchant's rows."""

from __future__ import annotations

from collections import defaultdict

import pytest

from smartpay.kit.db import Database
from smartpay.reports.repository import LATENCY_PERCENTILES
from tests.conftest import Api
from tests.reports import dataset
from tests.reports.dataset import DAY, START, Dataset

PAYMENTS = 600
SEED = 20261202


@pytest.fixture
async def generated(api: Api, database: Database) -> Dataset:
    data = dataset.generate([api.keys.merchant_id, api.other.merchant_id], PAYMENTS, SEED)
    await dataset.store(database, data)
    return data


PERIODS = [
    pytest.param(None, None, id="all-time"),
    pytest.param(START + 5 * DAY, START + 12 * DAY, id="one-week"),
]


@pytest.mark.parametrize(("start", "end"), PERIODS)
async def test_volume_and_approvals_match_the_data(
    api: Api, generated: Dataset, start: int | None, end: int | None
) -> None:
    mine = generated.of(api.keys.merchant_id, start, end)
    assert len(mine.charges) > 50  # the period holds enough payments to mean something
    params = {} if start is None else {"start": str(start), "end": str(end)}
    report = (await api.get("/v1/reports/summary", params=params)).json()
    assert report["period"] == {"start": start, "end": end}
    volume = report["volume"]
    assert volume["by_status"] == dataset.expected_by_status(mine)
    assert volume["by_currency"] == dataset.expected_charge_groups(mine, None)
    assert volume["by_processor"] == dataset.expected_charge_groups(mine, "processor")
    assert volume["by_card_brand"] == dataset.expected_charge_groups(mine, "brand")
    # Each currency separately: three currencies in the data, three rows, no grand sum.
    assert {row["currency"] for row in volume["by_currency"]} == set(dataset.CURRENCIES)

    succeeded = sum(1 for c in mine.charges if c["status"] == "succeeded")
    failed = sum(1 for c in mine.charges if c["status"] == "failed")
    approvals = report["approvals"]
    assert (approvals["approved"], approvals["decided"]) == (succeeded, succeeded + failed)
    assert approvals["approval_rate"] == dataset.rate(succeeded, succeeded + failed)
    per_brand = {row["brand"]: row for row in approvals["by_card_brand"]}
    for brand in dataset.BRANDS:
        rows = [c for c in mine.charges if c["card"]["brand"] == brand]
        ok = sum(1 for c in rows if c["status"] == "succeeded")
        decided = sum(1 for c in rows if c["status"] != "pending")
        assert per_brand[brand]["approval_rate"] == dataset.rate(ok, decided)


@pytest.mark.parametrize(("start", "end"), PERIODS)
async def test_declines_refunds_and_routing_match_the_data(
    api: Api, generated: Dataset, start: int | None, end: int | None
) -> None:
    mine = generated.of(api.keys.merchant_id, start, end)
    params = {} if start is None else {"created[gte]": str(start), "created[lt]": str(end)}
    report = (await api.get("/v1/reports/summary", params=params)).json()

    declines = report["declines"]
    expected = dataset.expected_declines(mine)
    assert declines["total"] == sum(expected.values())
    assert {(d["code"], d["decline_code"]): d["count"] for d in declines["data"]} == expected
    counts = [d["count"] for d in declines["data"]]
    assert counts == sorted(counts, reverse=True)

    refunds = {row["currency"]: row for row in report["refunds"]["by_currency"]}
    for currency in dataset.CURRENCIES:
        rows = [r for r in mine.refunds if r["currency"] == currency]
        refunded = sum(r["amount"] for r in rows if r["status"] == "succeeded")
        captured = sum(c["amount_captured"] for c in mine.charges if c["currency"] == currency)
        assert refunds[currency]["count"] == len(rows)
        assert refunds[currency]["amount"] == sum(r["amount"] for r in rows)
        assert refunds[currency]["amount_succeeded"] == refunded
        assert refunds[currency]["amount_captured"] == captured
        assert refunds[currency]["refund_rate"] == dataset.rate(refunded, captured)
    reasons = {r["reason"]: r["count"] for r in report["refunds"]["reasons"]}
    assert sum(reasons.values()) == len(mine.refunds)

    routing = report["routing"]
    assert routing["attempts"] == len(mine.attempts)
    per_charge: dict[str, int] = defaultdict(int)
    for attempt in mine.attempts:
        per_charge[attempt["charge_id"]] += 1
    cascaded = sum(1 for n in per_charge.values() if n > 1)
    assert cascaded > 0 and routing["cascaded_charges"] == cascaded
    expected_routing = dataset.expected_routing(mine)
    for row in routing["data"]:
        want = expected_routing[row["processor"]]
        assert {key: row[key] for key in want} == want
    assert {row["processor"] for row in routing["data"]} == set(expected_routing)


async def test_latency_percentiles_are_nearest_rank(api: Api, generated: Dataset) -> None:
    mine = generated.of(api.keys.merchant_id)
    report = (await api.get("/v1/reports/latency")).json()
    rows = {row["processor"]: row for row in report["latency"]["data"]}
    groups: dict[str, list[float]] = defaultdict(list)
    for attempt in mine.attempts:
        if attempt["finished_at"] is not None:
            ms = (attempt["finished_at"] - attempt["started_at"]) * 1000
            groups["all"].append(ms)
            groups[attempt["processor"]].append(ms)
    assert set(rows) == set(groups)
    for processor, values in groups.items():
        row = rows[processor]
        assert row["count"] == len(values)
        for p in LATENCY_PERCENTILES:
            want = dataset.nearest_rank(values, p)
            assert row[f"p{p}_ms"] == pytest.approx(want, abs=0.051)
        assert row["max_ms"] == pytest.approx(max(values), abs=0.051)


async def test_the_other_merchant_sees_only_its_own(api: Api, generated: Dataset) -> None:
    theirs = generated.of(api.other.merchant_id)
    report = (await api.get("/v1/reports/summary", key=api.other.secret_key)).json()
    assert report["merchant"] == api.other.merchant_id
    assert report["volume"]["by_currency"] == dataset.expected_charge_groups(theirs, None)
    assert report["routing"]["attempts"] == len(theirs.attempts)
    assert sum(r["count"] for r in report["refunds"]["by_currency"]) == len(theirs.refunds)
