"""Stripe's expand[]: id fields replaced by the objects they name."""

from tests.api.helpers import card, pay
from tests.conftest import Api


async def test_expand_on_retrieve_list_and_writes(api: Api) -> None:
    customer = (await api.post("/v1/customers", {"email": "e@x.co"})).json()
    method = await card(api)
    created = await api.post(
        "/v1/payment_intents",
        {
            "amount": "2500",
            "currency": "usd",
            "customer": customer["id"],
            "payment_method": method["id"],
            "confirm": "true",
            "expand[]": ["latest_charge", "payment_method"],
        },
    )
    intent = created.json()
    assert intent["latest_charge"]["object"] == "charge"
    assert intent["latest_charge"]["amount_captured"] == 2500
    assert intent["payment_method"]["card"]["last4"] == "4242"
    assert intent["customer"] == customer["id"]  # not asked for: stays an id

    one = await api.get(
        f"/v1/payment_intents/{intent['id']}", params={"expand[]": ["customer", "latest_charge"]}
    )
    assert one.json()["customer"]["email"] == "e@x.co"
    charge_id = one.json()["latest_charge"]["id"]

    charge = await api.get(f"/v1/charges/{charge_id}", params={"expand[]": "balance_transaction"})
    txn = charge.json()["balance_transaction"]
    assert txn["object"] == "balance_transaction" and txn["net"] == 2500 - 103

    refund = await api.post(
        "/v1/refunds", {"charge": charge_id, "amount": "500", "expand[]": "charge"}
    )
    assert refund.json()["charge"]["amount_refunded"] == 500

    listed = await api.get("/v1/payment_intents", params={"expand[]": "data.latest_charge"})
    assert all(isinstance(pi["latest_charge"], dict) for pi in listed.json()["data"])


async def test_unknown_expansion_is_refused_before_anything_runs(api: Api) -> None:
    method = await card(api)
    response = await api.post(
        "/v1/payment_intents",
        {
            "amount": "100",
            "currency": "usd",
            "payment_method": method["id"],
            "confirm": "true",
            "expand[]": "colour",
        },
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "expand"
    assert (await api.get("/v1/payment_intents")).json()["data"] == []
    intent = (await pay(api)).json()
    bad = await api.get(f"/v1/payment_intents/{intent['id']}", params={"expand[]": "nope"})
    assert bad.status_code == 400


async def test_idempotent_replay_is_expanded_too(api: Api) -> None:
    method = await card(api)
    data = {
        "amount": "700",
        "currency": "usd",
        "payment_method": method["id"],
        "confirm": "true",
        "expand[]": "latest_charge",
    }
    headers = {"Idempotency-Key": "expand-1"}
    first = await api.post("/v1/payment_intents", data, headers=headers)
    second = await api.post("/v1/payment_intents", data, headers=headers)
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json()["latest_charge"]["id"] == first.json()["latest_charge"]["id"]
