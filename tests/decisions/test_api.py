"""/v1/decisions over HTTP: create (voted, recorded, replayed), retrieve, list with
filters, another merchant's decision is a 404, ground truth and the voter report; and a
context snapshot that never holds card data."""

from __future__ import annotations

import json

import pytest

from smartpay.decisions.context import snapshot
from smartpay.decisions.kinds import Level
from smartpay.decisions.service import DecisionService
from tests.card_scan import TEST_PANS
from tests.conftest import Api
from tests.decisions.fakes import FixedLocalVoter


@pytest.fixture
def panel(api: Api) -> None:
    """Scripted local voters (no model loading) on the app's decision service."""
    decisions: DecisionService = api.app.state.decisions  # type: ignore[attr-defined]
    decisions._local_voters = [
        FixedLocalVoter("risk_model", Level.FAVOURABLE, 0.02),
        FixedLocalVoter("anomaly_forest", Level.FAVOURABLE, 0.01),
    ]
    decisions._remote_voters = []


async def create(api: Api, subject: str, **extra: object) -> dict[str, object]:
    response = await api.client.post(
        "/v1/decisions",
        json={
            "kind": "refund_request",
            "subject": subject,
            "amount": 500,
            "currency": "usd",
            **extra,
        },
        headers=api.auth(),
    )
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


async def test_create_retrieve_and_replay(api: Api, panel: None) -> None:
    body = await create(api, "re_1", context={"reason": "damaged"})
    assert body["object"] == "decision"
    assert body["outcome"] == "approve"
    assert len(body["votes"]) == 2  # type: ignore[arg-type]
    again = await create(api, "re_1")
    assert again["id"] == body["id"]
    fetched = await api.get(f"/v1/decisions/{body['id']}")
    assert fetched.status_code == 200
    assert fetched.json()["votes"] == body["votes"]


async def test_another_merchants_decision_is_404(api: Api, panel: None) -> None:
    body = await create(api, "re_2")
    response = await api.get(f"/v1/decisions/{body['id']}", key=api.other.secret_key)
    assert response.status_code == 404
    listed = await api.get("/v1/decisions", key=api.other.secret_key)
    assert listed.json()["data"] == []


async def test_list_filters(api: Api, panel: None) -> None:
    await create(api, "re_a")
    await create(api, "pay_b", kind="payout_approval")
    by_kind = (await api.get("/v1/decisions", params={"kind": "payout_approval"})).json()
    assert [d["subject"] for d in by_kind["data"]] == ["pay_b"]
    by_subject = (await api.get("/v1/decisions", params={"subject": "re_a"})).json()
    assert [d["kind"] for d in by_subject["data"]] == ["refund_request"]
    by_outcome = (await api.get("/v1/decisions", params={"outcome": "deny"})).json()
    assert by_outcome["data"] == []
    bad = await api.get("/v1/decisions", params={"kind": "lottery"})
    assert bad.status_code == 400


async def test_ground_truth_and_voter_report(api: Api, panel: None) -> None:
    body = await create(api, "re_3")
    response = await api.client.post(
        f"/v1/decisions/{body['id']}/ground_truth",
        json={"ground_truth": "approve", "source": "review"},
        headers=api.auth(),
    )
    assert response.status_code == 200
    assert response.json()["ground_truth"] == "approve"
    report = (await api.get("/v1/decisions/voters")).json()["data"]
    assert {row["voter"]: row["accuracy"] for row in report} == {
        "anomaly_forest": 1.0,
        "risk_model": 1.0,
    }
    learnt = await api.client.post("/v1/decisions/policy/learn", json={}, headers=api.auth())
    assert learnt.json()["weights_source"] == "learnt"


async def test_policy_update(api: Api, panel: None) -> None:
    response = await api.client.post(
        "/v1/decisions/policy",
        json={"strategy": "majority", "weights": {"risk_model": 2}},
        headers=api.auth(),
    )
    assert response.status_code == 200
    assert response.json()["strategy"] == "majority"
    body = await create(api, "re_4")
    assert body["strategy"] == "majority"
    bad = await api.client.post(
        "/v1/decisions/policy", json={"strategy": "coin_toss"}, headers=api.auth()
    )
    assert bad.status_code == 400


async def test_card_data_cannot_enter_the_context(api: Api, panel: None) -> None:
    context = {
        "description": "card 4242 4242 4242 4242 exp 12/30 cvc 123",
        "number": "4000000000009995",
        "card": {"cvc": "123", "exp_month": 12, "last4": "4242", "brand": "visa"},
        "notes": ["pan 4000-0000-0000-0002", 4100000000000019],
        "card_number": "5555555555554444",
    }
    body = await create(api, "re_5", context=context)
    stored = json.dumps(body["context"])
    for pan in TEST_PANS:
        assert pan not in stored
    assert "123" not in stored
    assert body["context"]["card"] == {"last4": "4242", "brand": "visa"}  # type: ignore[index]
    # The database scan after the test (conftest) checks the stored rows as well.


def test_snapshot_masks_and_bounds() -> None:
    cleaned = snapshot(
        {
            "pan": "4242424242424242",
            "text": "4242424242424242",
            "deep": {"a": {"b": {"c": {"d": "too deep"}}}},
            "nan": float("nan"),
            "long": "x" * 2000,
        }
    )
    assert "pan" not in cleaned
    assert cleaned["text"] == "****4242"
    assert cleaned["deep"] == {"a": {"b": {"c": "[removed]"}}}
    assert cleaned["nan"] is None
    assert len(cleaned["long"]) == 500  # type: ignore[arg-type]
