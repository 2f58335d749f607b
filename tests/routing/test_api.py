"""/v1/routing/config and /v1/routing/decide: validation, isolation, charging nothing."""

from __future__ import annotations

import json

import pytest

from tests.api.helpers import card
from tests.conftest import Api

TWO = json.dumps({"a": {"fee_basis_points": 250}, "b": {"fee_basis_points": 150}})
CONFIG = {
    "rules": [
        {"id": "eu", "when": {"currency": ["eur"]}, "route": {"processor": "b"}},
        {"id": "big", "when": {"amount": {"gte": 10000}}, "route": {"split": {"a": 50, "b": 50}}},
    ],
    "strategy": "smart",
}


@pytest.mark.settings(processors="a,b", sandbox_profiles=TWO)
async def test_config_round_trip_and_isolation(api: Api) -> None:
    default = (await api.get("/v1/routing/config")).json()
    assert default["source"] == "default" and default["rules"] == []
    saved = await api.client.post("/v1/routing/config", json=CONFIG, headers=api.auth())
    assert saved.status_code == 200, saved.text
    mine = (await api.get("/v1/routing/config")).json()
    assert mine["source"] == "api" and [r["id"] for r in mine["rules"]] == ["eu", "big"]
    # Another merchant sees only its own (default) configuration, never this one.
    theirs = (await api.get("/v1/routing/config", key=api.other.secret_key)).json()
    assert theirs["source"] == "default" and theirs["rules"] == []
    assert theirs["account"] == api.other.merchant_id
    decision = (
        await api.client.post(
            "/v1/routing/decide",
            json={"amount": 500, "currency": "eur"},
            headers=api.auth(api.other.secret_key),
        )
    ).json()
    assert decision["rule"] is None  # my "eu" rule does not route their payments


@pytest.mark.settings(processors="a,b", sandbox_profiles=TWO)
async def test_form_encoded_config_is_accepted(api: Api) -> None:
    response = await api.post(
        "/v1/routing/config",
        {
            "rules[0][id]": "visa",
            "rules[0][when][card_brand][0]": "visa",
            "rules[0][route][fallback][0]": "b",
            "rules[0][route][fallback][1]": "a",
            "strategy": "priority",
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["rules"][0]["route"]["fallback"] == ["b", "a"]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"rules": [{"id": "x", "route": {"split": {"a": 60, "b": 30}}}]}, "rules[0][route]"),
        ({"rules": [{"id": "x", "route": {"processor": "nope"}}]}, "rules[0][route][processor]"),
        ({"rules": [{"id": "x", "route": {}}]}, "rules[0][route]"),
        ({"rules": [{"id": "x", "route": {"processor": "a"}, "if": {}}]}, "rules[0][if]"),
        (
            {"rules": [{"id": "x", "when": {"bin_range": ["42"]}, "route": {"processor": "a"}}]},
            "rules[0][when]",
        ),
        (
            {"rules": [{"id": "x", "when": {"currency": ["zzz"]}, "route": {"processor": "a"}}]},
            "rules[0][when]",
        ),
        ({"processors": ["a", "ghost"]}, "processors[1]"),
        ({"strategy": "random"}, "strategy"),
        (
            {
                "rules": [
                    {"id": "x", "route": {"processor": "a"}},
                    {"id": "x", "route": {"processor": "b"}},
                ]
            },
            "",
        ),
    ],
)
@pytest.mark.settings(processors="a,b", sandbox_profiles=TWO)
async def test_bad_config_is_a_400_naming_the_parameter(
    api: Api, body: dict[str, object], param: str
) -> None:
    response = await api.client.post("/v1/routing/config", json=body, headers=api.auth())
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error.get("param", "") == param
    assert (await api.get("/v1/routing/config")).json()["source"] == "default"


@pytest.mark.settings(processors="a,b", sandbox_profiles=TWO)
async def test_decide_ranks_with_reasons_and_charges_nothing(api: Api) -> None:
    await api.client.post("/v1/routing/config", json=CONFIG, headers=api.auth())
    method = await card(api, "4000002760000016")  # a German Visa
    response = await api.client.post(
        "/v1/routing/decide",
        json={"amount": 2500, "currency": "usd", "payment_method": method["id"]},
        headers=api.auth(),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["segment"] == "visa:DE:medium:usd"
    assert body["method"] == "smart" and body["rule"] is None
    assert [p["rank"] for p in body["processors"]] == [1, 2]
    assert {p["processor"] for p in body["processors"]} == {"a", "b"}
    for ranked in body["processors"]:
        assert {"score", "approval_mean", "expected_fee"} <= set(ranked["score"])
        assert ranked["breaker"]["state"] == "closed"
    fees = {p["processor"]: p["score"]["expected_fee"] for p in body["processors"]}
    assert fees == {"a": 93, "b": 68}  # 2.5% / 1.5% of 25.00, plus 30
    eur = (
        await api.client.post(
            "/v1/routing/decide", json={"amount": 900, "currency": "eur"}, headers=api.auth()
        )
    ).json()
    assert eur["rule"] == "eu" and eur["processors"][0]["processor"] == "b"
    # Nothing was charged or recorded anywhere.
    assert (await api.get("/v1/payment_intents")).json()["data"] == []
    for name in ("a", "b"):
        assert await api.app.state.connectors.get(name).records() == []  # type: ignore[attr-defined]


@pytest.mark.settings(processors="a,b", sandbox_profiles=TWO)
async def test_decide_with_another_merchants_payment_method_is_404(api: Api) -> None:
    method = await card(api)
    response = await api.client.post(
        "/v1/routing/decide",
        json={"amount": 2500, "currency": "usd", "payment_method": method["id"]},
        headers=api.auth(api.other.secret_key),
    )
    assert response.status_code == 404
    assert response.json()["error"]["param"] == "payment_method"


async def test_routing_needs_a_secret_key(api: Api) -> None:
    assert (await api.client.get("/v1/routing/config")).status_code == 401
    response = await api.get("/v1/routing/config", key=api.keys.publishable_key)
    assert response.status_code == 403
