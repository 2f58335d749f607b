"""Every object belongs to one merchant: another merchant's id answers 404 everywhere."""

from tests.api.helpers import pay
from tests.conftest import Api


async def test_other_merchants_objects_are_invisible(api: Api) -> None:
    customer = (await api.post("/v1/customers", {"email": "a@b.co"})).json()
    intent = (await pay(api, capture_method="manual")).json()
    await api.post(f"/v1/payment_intents/{intent['id']}/capture")
    refund = (
        await api.post("/v1/refunds", {"payment_intent": intent["id"], "amount": "100"})
    ).json()
    charge_id = intent["latest_charge"]
    method_id = intent["payment_method"]
    charge = (await api.get(f"/v1/charges/{charge_id}")).json()
    event_id = (await api.get("/v1/events")).json()["data"][0]["id"]
    txn_id = charge["balance_transaction"]
    other = api.other.secret_key

    reads = [
        f"/v1/customers/{customer['id']}",
        f"/v1/payment_methods/{method_id}",
        f"/v1/payment_intents/{intent['id']}",
        f"/v1/charges/{charge_id}",
        f"/v1/refunds/{refund['id']}",
        f"/v1/events/{event_id}",
        f"/v1/balance_transactions/{txn_id}",
    ]
    for path in reads:
        response = await api.get(path, key=other)
        assert response.status_code == 404, path
        assert response.json()["error"]["type"] == "invalid_request_error"

    writes = [
        (f"/v1/customers/{customer['id']}", {"name": "x"}),
        (f"/v1/payment_methods/{method_id}", {"metadata[a]": "b"}),
        (f"/v1/payment_methods/{method_id}/attach", {"customer": customer["id"]}),
        (f"/v1/payment_methods/{method_id}/detach", {}),
        (f"/v1/payment_intents/{intent['id']}", {"description": "x"}),
        (f"/v1/payment_intents/{intent['id']}/confirm", {}),
        (f"/v1/payment_intents/{intent['id']}/capture", {}),
        (f"/v1/payment_intents/{intent['id']}/cancel", {}),
        (f"/v1/refunds/{refund['id']}", {"metadata[a]": "b"}),
        ("/v1/refunds", {"charge": charge_id}),
        ("/v1/refunds", {"payment_intent": intent["id"]}),
        ("/v1/payment_intents", {"amount": "100", "currency": "usd", "payment_method": method_id}),
        ("/v1/payment_intents", {"amount": "100", "currency": "usd", "customer": customer["id"]}),
    ]
    for path, data in writes:
        response = await api.post(path, data, key=other)
        assert response.status_code == 404, (path, response.text)
    deleted = await api.client.delete(
        f"/v1/customers/{customer['id']}", headers={"Authorization": f"Bearer {other}"}
    )
    assert deleted.status_code == 404

    lists = [
        "/v1/customers",
        "/v1/payment_intents",
        "/v1/charges",
        "/v1/refunds",
        "/v1/events",
        "/v1/balance_transactions",
    ]
    for path in lists:
        assert (await api.get(path, key=other)).json()["data"] == [], path
    their_balance = (await api.get("/v1/balance", key=other)).json()
    assert their_balance["available"] == [] and their_balance["pending"] == []
    assert (await api.get("/v1/balance")).json()["pending"] != []
    methods = await api.get("/v1/payment_methods", params={"customer": customer["id"]}, key=other)
    assert methods.status_code == 404
