"""The risk engine in the payment path, through the HTTP API."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from smartpay.connectors.sandbox.models import sandbox_records
from smartpay.kit.db import Database
from tests.api.helpers import card, pay
from tests.conftest import Api


async def sandbox_authorizations(database: Database) -> int:
    async with database.transaction() as session:
        query = sa.select(sa.func.count()).select_from(sandbox_records)
        return int((await session.execute(query)).scalar_one())


async def add_rule(api: Api, action: str, **conditions: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"action": action}
    for index, (fact, (operator, value)) in enumerate(conditions.items()):
        data[f"conditions[{index}][fact]"] = fact
        data[f"conditions[{index}][operator]"] = operator
        if isinstance(value, list):
            for position, item in enumerate(value):
                data[f"conditions[{index}][value][{position}]"] = item
        else:
            data[f"conditions[{index}][value]"] = str(value)
    response = await api.post("/v1/risk/rules", data)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_every_confirmation_is_scored_and_the_charge_shows_it(api: Api) -> None:
    response = await pay(api, 2000)
    assert response.status_code == 200, response.text
    intent = response.json()
    assert intent["status"] == "succeeded"
    risk = intent["risk"]
    assert 0 <= risk["score"] <= 1000
    assert risk["decision"] == "allow"
    assert risk["model_version"]
    assert isinstance(risk["reasons"]["features"], list)
    charge = (await api.get(f"/v1/charges/{intent['latest_charge']}")).json()
    assert charge["outcome"]["risk_score"] == risk["score"] // 10
    assert charge["outcome"]["risk_level"] == "normal"


async def test_a_blocked_payment_never_reaches_the_processor(api: Api, database: Database) -> None:
    await add_rule(api, "block", score=("gte", 0))
    before = await sandbox_authorizations(database)
    response = await pay(api, 2000)
    assert response.status_code == 402
    error = response.json()["error"]
    assert (error["code"], error["decline_code"]) == ("card_declined", "fraudulent")
    intent = error["payment_intent"]
    assert intent["status"] == "requires_payment_method"
    assert intent["risk"]["decision"] == "block"
    assert await sandbox_authorizations(database) == before
    charge = (await api.get(f"/v1/charges/{error['charge']}")).json()
    assert charge["status"] == "failed"
    assert charge["outcome"]["type"] == "blocked"
    assert charge["outcome"]["risk_level"] == "highest"


async def test_review_holds_capture_until_approved(api: Api) -> None:
    await add_rule(api, "review", score=("gte", 0))
    intent = (await pay(api, 2000)).json()
    assert intent["status"] == "requires_capture"
    review_id = intent["review"]
    assert review_id.startswith("prv_")
    refused = await api.post(f"/v1/payment_intents/{intent['id']}/capture")
    assert refused.status_code == 400
    reviews = (await api.get("/v1/reviews", params={"status": "open"})).json()["data"]
    assert [review["id"] for review in reviews] == [review_id]
    # Another merchant sees none of it.
    other = api.other.secret_key
    assert (await api.get(f"/v1/reviews/{review_id}", key=other)).status_code == 404
    assert (await api.post(f"/v1/reviews/{review_id}/approve", key=other)).status_code == 404
    approved = await api.post(f"/v1/reviews/{review_id}/approve")
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    after = (await api.get(f"/v1/payment_intents/{intent['id']}")).json()
    assert after["status"] == "succeeded"
    again = await api.post(f"/v1/reviews/{review_id}/approve")
    assert again.status_code == 400


async def test_rejecting_a_review_cancels_the_payment(api: Api) -> None:
    await add_rule(api, "review", score=("gte", 0))
    intent = (await pay(api, 2000)).json()
    rejected = await api.post(f"/v1/reviews/{intent['review']}/reject")
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "rejected"
    after = (await api.get(f"/v1/payment_intents/{intent['id']}")).json()
    assert after["status"] == "canceled"
    assert after["cancellation_reason"] == "fraudulent"


async def test_block_list_and_allow_list(api: Api) -> None:
    method = await card(api)
    fingerprint = method["card"]["fingerprint"]
    entry = await api.post(
        "/v1/risk/lists",
        {"kind": "card_fingerprint", "value": fingerprint, "action": "block"},
    )
    assert entry.status_code == 200, entry.text
    response = await api.post(
        "/v1/payment_intents",
        {"amount": "500", "currency": "usd", "payment_method": method["id"], "confirm": "true"},
    )
    assert response.status_code == 402
    assert response.json()["error"]["payment_intent"]["risk"]["reasons"]["rules"] == [
        "block_list:card_fingerprint"
    ]
    other = api.other.secret_key
    entry_id = entry.json()["id"]
    assert (
        await api.client.delete(f"/v1/risk/lists/{entry_id}", headers=api.auth(other))
    ).status_code == 404
    assert (
        await api.client.delete(f"/v1/risk/lists/{entry_id}", headers=api.auth())
    ).status_code == 200
    # An allowed email wins over a blocking rule.
    await add_rule(api, "block", score=("gte", 0))
    await api.post(
        "/v1/risk/lists", {"kind": "email", "value": "Good@Example.com", "action": "allow"}
    )
    allowed = await pay(api, 500, receipt_email="good@example.com")
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["risk"]["decision"] == "allow"


async def test_rules_api_validates_orders_and_isolates(api: Api) -> None:
    bad = await api.post(
        "/v1/risk/rules",
        {"action": "block", "conditions[0][fact]": "nope", "conditions[0][operator]": "eq",
         "conditions[0][value]": "x"},
    )  # fmt: skip
    assert bad.status_code == 400
    assert bad.json()["error"]["param"].startswith("conditions")
    first = await add_rule(api, "review", ip_country=("in", ["NG"]))
    second = await add_rule(api, "block", email_domain=("in", ["evil.test"]))
    moved = await api.post(f"/v1/risk/rules/{second['id']}", {"position": "0"})
    assert moved.status_code == 200, moved.text
    listed = (await api.get("/v1/risk/rules")).json()["data"]
    assert [rule["id"] for rule in listed] == [second["id"], first["id"]]
    other = api.other.secret_key
    assert (await api.get(f"/v1/risk/rules/{first['id']}", key=other)).status_code == 404
    assert (
        await api.post(f"/v1/risk/rules/{first['id']}", {"action": "allow"}, key=other)
    ).status_code == 404
    assert (await api.get("/v1/risk/rules", key=other)).json()["data"] == []
    deleted = await api.client.delete(f"/v1/risk/rules/{first['id']}", headers=api.auth())
    assert deleted.json()["deleted"] is True


async def test_ip_country_rule_uses_the_offline_geoip_database(api: Api) -> None:
    await add_rule(api, "block", ip_country=("in", ["US"]))
    blocked = await pay(api, 500, **{"metadata[ip_address]": "8.8.8.8"})
    assert blocked.status_code == 402
    allowed = await pay(api, 500, **{"metadata[ip_address]": "81.2.69.160"})  # GB
    assert allowed.status_code == 200


async def test_velocity_rule_sees_earlier_payments_of_the_card(api: Api) -> None:
    method = await card(api)
    await add_rule(api, "block", velocity_card_count_1h=("gte", 2))
    statuses = []
    for _ in range(3):
        response = await api.post(
            "/v1/payment_intents",
            {"amount": "500", "currency": "usd", "payment_method": method["id"], "confirm": "true"},
        )
        statuses.append(response.status_code)
    assert statuses == [200, 200, 402]


async def test_fraud_feedback_and_assess(api: Api) -> None:
    intent = (await pay(api, 2000)).json()
    feedback = await api.post(
        f"/v1/payment_intents/{intent['id']}/fraud_feedback", {"label": "fraudulent"}
    )
    assert feedback.status_code == 200, feedback.text
    assert feedback.json()["label"] == "fraudulent"
    other = api.other.secret_key
    assert (
        await api.post(
            f"/v1/payment_intents/{intent['id']}/fraud_feedback", {"label": "safe"}, key=other
        )
    ).status_code == 404
    bad = await api.post(f"/v1/payment_intents/{intent['id']}/fraud_feedback", {"label": "maybe"})
    assert bad.status_code == 400
    assessed = await api.post(
        "/v1/risk/assess",
        {"amount": "2000", "currency": "usd", "payment_method": intent["payment_method"]},
    )
    assert assessed.status_code == 200, assessed.text
    body = assessed.json()
    assert body["object"] == "risk_assessment"
    assert {"score", "decision", "reasons", "model_version"} <= set(body)
    missing = await api.post(
        "/v1/risk/assess",
        {"amount": "2000", "currency": "usd", "payment_method": intent["payment_method"]},
        key=other,
    )
    assert missing.status_code == 404


@pytest.mark.settings(risk_enabled=False)
async def test_the_engine_can_be_turned_off(api: Api) -> None:
    intent = (await pay(api, 2000)).json()
    assert intent["status"] == "succeeded"
    assert intent["risk"] is None


@pytest.mark.settings(risk_store="redis", redis_url="redis://127.0.0.1:6379/0")
async def test_redis_store_in_the_payment_path(api: Api) -> None:
    # Redis outlives the test database: a fresh device id keeps earlier runs out.
    device = f"device-{uuid.uuid4().hex}"
    method = await card(api)
    await add_rule(api, "review", velocity_device_count_1h=("gte", 1))
    data = {
        "amount": "500",
        "currency": "usd",
        "payment_method": method["id"],
        "confirm": "true",
        "metadata[device_id]": device,
    }
    first = (await api.post("/v1/payment_intents", data)).json()
    second = (await api.post("/v1/payment_intents", data)).json()
    assert first["status"] == "succeeded"
    assert second["status"] == "requires_capture"
