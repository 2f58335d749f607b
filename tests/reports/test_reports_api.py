"""GET /v1/reports/...: real payments through the sandbox processor, reported per status,
currency, processor and brand; the period parameters validated with a 400 naming the
parameter; secret keys only; and never another merchant's data."""

from __future__ import annotations

import time
from typing import Any

import pytest

from smartpay.reports.service import SECTIONS
from tests.api.helpers import pay
from tests.card_scan import card_data_in_text
from tests.conftest import Api


async def _traffic(api: Api) -> dict[str, Any]:
    first = (await pay(api, amount=2500)).json()
    await pay(api, amount=4250, number="5555555555554444")
    await pay(api, number="4000000000009995")  # insufficient funds
    await pay(api, number="4000000000000002")  # generic decline
    await pay(api, amount=500, currency="jpy")
    refund = await api.post("/v1/refunds", {"payment_intent": first["id"], "amount": "1000"})
    assert refund.status_code == 200, refund.text
    foreign = await pay(api, amount=9999, key=api.other.secret_key)
    assert foreign.json()["status"] == "succeeded"
    return first  # type: ignore[no-any-return]


async def test_summary_of_real_payments(api: Api) -> None:
    await _traffic(api)
    response = await api.get("/v1/reports/summary")
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["object"] == "report" and report["merchant"] == api.keys.merchant_id
    assert set(SECTIONS) <= set(report)
    volume = report["volume"]
    by_status = {
        (r["status"], r["currency"]): (r["count"], r["amount"]) for r in volume["by_status"]
    }
    assert by_status == {
        ("succeeded", "usd"): (2, 2500 + 4250),
        ("requires_payment_method", "usd"): (2, 4000),
        ("succeeded", "jpy"): (1, 500),
    }
    currencies = {r["currency"]: r for r in volume["by_currency"]}
    assert set(currencies) == {"usd", "jpy"}  # never one sum across currencies
    usd = currencies["usd"]
    assert (usd["count"], usd["succeeded"], usd["failed"]) == (4, 2, 2)
    assert usd["amount_captured"] == 6750 and usd["amount_refunded"] == 1000
    assert currencies["jpy"]["amount_captured"] == 500
    brands = {(r["brand"], r["currency"]): r["count"] for r in volume["by_card_brand"]}
    assert brands == {("visa", "usd"): 3, ("mastercard", "usd"): 1, ("visa", "jpy"): 1}
    assert [r["processor"] for r in volume["by_processor"]] == ["sandbox", "sandbox"]

    approvals = report["approvals"]
    assert (approvals["approved"], approvals["decided"]) == (3, 5)
    assert approvals["approval_rate"] == 0.6
    declines = {(d["code"], d["decline_code"]): d["count"] for d in report["declines"]["data"]}
    assert declines == {
        ("card_declined", "insufficient_funds"): 1,
        ("card_declined", "generic_decline"): 1,
    }
    refunds = {r["currency"]: r for r in report["refunds"]["by_currency"]}
    assert refunds["usd"]["amount_succeeded"] == 1000
    assert refunds["usd"]["refund_rate"] == round(1000 / 6750, 4)
    assert refunds["jpy"]["count"] == 0 and refunds["jpy"]["refund_rate"] == 0.0

    routing = report["routing"]["data"]
    assert [(r["processor"], r["attempts"], r["share"]) for r in routing] == [("sandbox", 5, 1.0)]
    assert routing[0]["approval_rate"] == 0.6
    latency = {r["processor"]: r for r in report["latency"]["data"]}
    assert latency["all"]["count"] == 5 and latency["sandbox"]["count"] == 5
    assert 0 <= latency["all"]["p50_ms"] <= latency["all"]["p99_ms"] <= latency["all"]["max_ms"]

    # The cost monitor's figures, the same as its own route gives.
    costs = (await api.get("/v1/reports/costs")).json()
    assert report["costs"]["data"] == costs["data"]
    assert report["costs"]["ach_batching"] == costs["ach_batching"]
    assert {row["currency"] for row in costs["data"]} == {"usd", "jpy"}
    assert card_data_in_text(response.text) == []


async def test_another_merchants_report_has_only_its_payment(api: Api) -> None:
    await _traffic(api)
    report = (await api.get("/v1/reports/summary", key=api.other.secret_key)).json()
    assert report["merchant"] == api.other.merchant_id
    assert report["volume"]["by_status"] == [
        {"status": "succeeded", "currency": "usd", "count": 1, "amount": 9999}
    ]
    assert report["approvals"]["decided"] == 1
    assert report["declines"]["data"] == []
    assert report["refunds"]["by_status"] == []
    assert report["routing"]["attempts"] == 1
    assert [row["currency"] for row in report["costs"]["data"]] == ["usd"]
    assert report["costs"]["data"][0]["card"]["amount"] == 9999


@pytest.mark.parametrize("section", [name for name in SECTIONS if name != "costs"])
async def test_each_section_has_its_own_route(api: Api, section: str) -> None:
    await pay(api)
    response = await api.get(f"/v1/reports/{section}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "report" and section in body
    assert not set(SECTIONS) - {section} & set(body)


async def test_the_period_filters_what_is_counted(api: Api) -> None:
    await pay(api)
    now = int(time.time())
    later = (await api.get("/v1/reports/volume", params={"start": str(now + 3600)})).json()
    assert later["volume"]["by_status"] == [] and later["volume"]["by_currency"] == []
    assert later["period"] == {"start": now + 3600, "end": None}
    earlier = await api.get("/v1/reports/routing", params={"created[lt]": str(now - 3600)})
    assert earlier.json()["routing"] == {"attempts": 0, "cascaded_charges": 0, "data": []}
    around = await api.get(
        "/v1/reports/approvals",
        params={"created[gt]": str(now - 3600), "created[lte]": str(now + 3600)},
    )
    assert around.json()["approvals"]["approved"] == 1
    assert around.json()["period"] == {"start": now - 3599, "end": now + 3601}


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"start": "200", "end": "100"}, "end"),
        ({"start": "100", "end": "100"}, "end"),
        ({"created[gte]": "200", "created[lt]": "100"}, "created[lt]"),
        ({"created[gte]": "200", "created[lte]": "100"}, "created[lte]"),
        ({"created[gte]": "1", "start": "2"}, "start"),
        ({"created[lt]": "1", "end": "2"}, "end"),
        ({"created[gt]": "1", "created[gte]": "2"}, "created[gt]"),
        ({"created[lt]": "1", "created[lte]": "2"}, "created[lte]"),
        ({"start": "yesterday"}, "start"),
        ({"end": "-5"}, "end"),
        ({"created[gte]": "1.5"}, "created[gte]"),
        ({"created[lt]": str(2**60)}, "created[lt]"),
        ({"created": "12"}, "created"),
        ({"currency": "usd"}, "currency"),
    ],
)
async def test_a_bad_period_is_a_400_naming_the_parameter(
    api: Api, params: dict[str, str], param: str
) -> None:
    response = await api.get("/v1/reports/summary", params=params)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param


async def test_reports_need_a_secret_key(api: Api) -> None:
    anonymous = await api.client.get("/v1/reports/summary")
    assert anonymous.status_code == 401
    publishable = await api.get("/v1/reports/volume", key=api.keys.publishable_key)
    assert publishable.status_code == 403
    assert publishable.json()["error"]["type"] == "invalid_request_error"


async def test_unknown_report_is_a_404(api: Api) -> None:
    response = await api.get("/v1/reports/nothing")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "resource_missing"
