import pytest

from tests.api.helpers import DECLINE_CARDS, THREE_D_SECURE_CARD, card, pay
from tests.conftest import Api


async def test_payment_method_shows_card_summary_never_the_number(api: Api) -> None:
    method = await card(api)
    assert method["id"].startswith("pm_")
    summary = method["card"]
    assert summary["brand"] == "visa" and summary["last4"] == "4242"
    assert summary["exp_month"] == 12 and summary["exp_year"] == 2031
    assert summary["funding"] == "credit" and len(summary["fingerprint"]) >= 16
    again = await card(api)
    assert again["card"]["fingerprint"] == summary["fingerprint"]
    assert "4242424242424242" not in str(method)


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("card[number]", "4242424242424241", "incorrect_number"),
        ("card[number]", "12345", "invalid_number"),
        ("card[exp_month]", "13", "invalid_expiry_month"),
        ("card[exp_year]", "2001", "invalid_expiry_year"),
        ("card[cvc]", "12", "invalid_cvc"),
    ],
)
async def test_card_validation_errors(api: Api, field: str, value: str, code: str) -> None:
    data = {
        "type": "card",
        "card[number]": "4242424242424242",
        "card[exp_month]": "12",
        "card[exp_year]": "2031",
        "card[cvc]": "123",
        field: value,
    }
    response = await api.post("/v1/payment_methods", data)
    assert response.status_code == 402
    error = response.json()["error"]
    assert error["type"] == "card_error" and error["code"] == code
    assert error["param"] in {"number", "exp_month", "exp_year", "cvc"}
    assert "4242424242424241" not in response.text


async def test_automatic_capture_succeeds_and_books_the_money(api: Api) -> None:
    response = await pay(api, amount=10_000)
    assert response.status_code == 200, response.text
    intent = response.json()
    assert intent["status"] == "succeeded"
    assert intent["amount_received"] == 10_000 and intent["amount_capturable"] == 0
    charge = (await api.get(f"/v1/charges/{intent['latest_charge']}")).json()
    assert charge["captured"] is True and charge["paid"] is True
    assert charge["payment_method_details"]["card"]["last4"] == "4242"
    txn = (await api.get(f"/v1/balance_transactions/{charge['balance_transaction']}")).json()
    assert txn["amount"] == 10_000 and txn["fee"] == 320 and txn["net"] == 9_680
    balance = (await api.get("/v1/balance")).json()
    assert balance["pending"] == [{"amount": 9_680, "currency": "usd"}]


async def test_manual_capture_partial_then_refunds_up_to_captured(api: Api) -> None:
    intent = (await pay(api, amount=5000, capture_method="manual")).json()
    assert intent["status"] == "requires_capture"
    assert intent["amount_capturable"] == 5000 and intent["amount_received"] == 0
    captured = await api.post(
        f"/v1/payment_intents/{intent['id']}/capture", {"amount_to_capture": "3000"}
    )
    assert captured.status_code == 200, captured.text
    assert captured.json()["status"] == "succeeded"
    assert captured.json()["amount_received"] == 3000
    first = await api.post("/v1/refunds", {"payment_intent": intent["id"], "amount": "1000"})
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "succeeded" and first.json()["id"].startswith("re_")
    second = await api.post("/v1/refunds", {"charge": intent["latest_charge"], "amount": "2000"})
    assert second.json()["status"] == "succeeded"
    too_much = await api.post("/v1/refunds", {"payment_intent": intent["id"], "amount": "1"})
    assert too_much.status_code == 400
    assert too_much.json()["error"]["param"] == "amount"
    charge = (await api.get(f"/v1/charges/{intent['latest_charge']}")).json()
    assert charge["amount_refunded"] == 3000 and charge["refunded"] is True
    listed = (await api.get("/v1/refunds", params={"payment_intent": intent["id"]})).json()
    assert {r["amount"] for r in listed["data"]} == {1000, 2000}


async def test_capture_more_than_authorized_is_refused(api: Api) -> None:
    intent = (await pay(api, amount=5000, capture_method="manual")).json()
    response = await api.post(
        f"/v1/payment_intents/{intent['id']}/capture", {"amount_to_capture": "5001"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "amount_to_capture"


@pytest.mark.parametrize(("number", "expected"), list(DECLINE_CARDS.items()))
async def test_declines_are_402_card_errors(
    api: Api, number: str, expected: tuple[str, str]
) -> None:
    response = await pay(api, number=number)
    assert response.status_code == 402, response.text
    error = response.json()["error"]
    assert error["type"] == "card_error"
    assert (error["code"], error["decline_code"]) == expected
    intent = error["payment_intent"]
    assert intent["status"] == "requires_payment_method"
    assert intent["last_payment_error"]["decline_code"] == expected[1]
    charge = (await api.get(f"/v1/charges/{error['charge']}")).json()
    assert charge["status"] == "failed" and charge["failure_code"] == expected[0]


async def test_three_d_secure_challenge_completes(api: Api) -> None:
    intent = (await pay(api, number=THREE_D_SECURE_CARD)).json()
    assert intent["status"] == "requires_action"
    url = intent["next_action"]["redirect_to_url"]["url"]
    page = await api.client.get(url)
    assert page.status_code == 200 and "3-D Secure" in page.text
    done = await api.client.post(f"{url}/complete", data={"result": "succeed"})
    assert done.status_code == 200
    after = (await api.get(f"/v1/payment_intents/{intent['id']}")).json()
    assert after["status"] == "succeeded" and after["amount_received"] == 2000


async def test_three_d_secure_failure_returns_to_requires_payment_method(api: Api) -> None:
    intent = (await pay(api, number=THREE_D_SECURE_CARD)).json()
    url = intent["next_action"]["redirect_to_url"]["url"]
    await api.client.post(f"{url}/complete", data={"result": "fail"})
    after = (await api.get(f"/v1/payment_intents/{intent['id']}")).json()
    assert after["status"] == "requires_payment_method"
    assert after["last_payment_error"]["type"] == "card_error"


async def test_create_update_confirm_then_cancel_releases_hold(api: Api) -> None:
    created = await api.post("/v1/payment_intents", {"amount": "1500", "currency": "eur"})
    intent = created.json()
    assert intent["status"] == "requires_payment_method" and intent["id"].startswith("pi_")
    method = await card(api)
    updated = await api.post(
        f"/v1/payment_intents/{intent['id']}",
        {"payment_method": method["id"], "amount": "1800", "capture_method": "manual"},
    )
    assert updated.json()["status"] == "requires_confirmation"
    assert updated.json()["amount"] == 1800
    confirmed = await api.post(f"/v1/payment_intents/{intent['id']}/confirm")
    assert confirmed.json()["status"] == "requires_capture"
    canceled = await api.post(
        f"/v1/payment_intents/{intent['id']}/cancel",
        {"cancellation_reason": "requested_by_customer"},
    )
    assert canceled.json()["status"] == "canceled"
    assert canceled.json()["cancellation_reason"] == "requested_by_customer"
    again = await api.post(f"/v1/payment_intents/{intent['id']}/confirm")
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "payment_intent_unexpected_state"


async def test_confirm_without_payment_method_names_the_param(api: Api) -> None:
    intent = (await api.post("/v1/payment_intents", {"amount": "100", "currency": "usd"})).json()
    response = await api.post(f"/v1/payment_intents/{intent['id']}/confirm")
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "payment_method"


@pytest.mark.parametrize(
    ("data", "param"),
    [
        ({"amount": "-5", "currency": "usd"}, "amount"),
        ({"amount": "0", "currency": "usd"}, "amount"),
        ({"amount": "12345678901234567890", "currency": "usd"}, "amount"),
        ({"amount": "12.5", "currency": "usd"}, "amount"),
        ({"amount": "abc", "currency": "usd"}, "amount"),
        ({"amount": "100", "currency": "xyz"}, "currency"),
        ({"currency": "usd"}, "amount"),
        ({"amount": "100", "currency": "usd", "customer": "cus_nope"}, "customer"),
        ({"amount": "100", "currency": "usd", "capture_method": "later"}, "capture_method"),
    ],
)
async def test_bad_payment_intent_input_is_400_with_param(
    api: Api, data: dict[str, str], param: str
) -> None:
    response = await api.post("/v1/payment_intents", data)
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["error"]["param"] == param


async def test_zero_and_three_decimal_currencies(api: Api) -> None:
    yen = await pay(api, amount=500, currency="jpy")
    assert yen.json()["status"] == "succeeded" and yen.json()["currency"] == "jpy"
    dinar = await pay(api, amount=1250, currency="bhd")
    assert dinar.json()["amount_received"] == 1250
    pending = {b["currency"]: b["amount"] for b in (await api.get("/v1/balance")).json()["pending"]}
    assert set(pending) == {"jpy", "bhd"}


async def test_list_payment_intents_filters_and_paginates(api: Api) -> None:
    customer = (await api.post("/v1/customers", {"email": "x@y.co"})).json()
    for _ in range(3):
        await api.post(
            "/v1/payment_intents", {"amount": "100", "currency": "usd", "customer": customer["id"]}
        )
    await api.post("/v1/payment_intents", {"amount": "100", "currency": "usd"})
    mine = (
        await api.get("/v1/payment_intents", params={"customer": customer["id"], "limit": 2})
    ).json()
    assert len(mine["data"]) == 2 and mine["has_more"] is True
    everything = (await api.get("/v1/payment_intents", params={"created[gte]": "0"})).json()
    assert len(everything["data"]) == 4


async def test_events_are_written_for_each_state_change(api: Api) -> None:
    intent = (await pay(api, capture_method="manual")).json()
    await api.post(f"/v1/payment_intents/{intent['id']}/capture")
    await api.post("/v1/refunds", {"payment_intent": intent["id"]})
    events = (await api.get("/v1/events", params={"limit": 100})).json()["data"]
    types = {e["type"] for e in events}
    assert {
        "payment_intent.created",
        "payment_intent.amount_capturable_updated",
        "payment_intent.succeeded",
        "charge.succeeded",
        "charge.captured",
        "charge.refunded",
    } <= types
    one = (await api.get(f"/v1/events/{events[0]['id']}")).json()
    assert one["object"] == "event" and one["data"]["object"]["id"]
    filtered = (await api.get("/v1/events", params={"type": "charge.refunded"})).json()["data"]
    assert [e["type"] for e in filtered] == ["charge.refunded"]


async def test_idempotent_confirm_replays_the_decline(api: Api) -> None:
    method = await card(api, "4000000000009995")
    data = {"amount": "700", "currency": "usd", "payment_method": method["id"], "confirm": "true"}
    headers = {"Idempotency-Key": "decline-1"}
    first = await api.post("/v1/payment_intents", data, headers=headers)
    second = await api.post("/v1/payment_intents", data, headers=headers)
    assert first.status_code == second.status_code == 402
    assert first.json() == second.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    intents = (await api.get("/v1/payment_intents")).json()["data"]
    assert len(intents) == 1


@pytest.mark.parametrize(
    ("test_id", "status", "decline_code"),
    [
        ("pm_card_visa", 200, None),
        ("pm_card_amex", 200, None),
        ("pm_card_chargeDeclinedInsufficientFunds", 402, "insufficient_funds"),
        ("pm_card_chargeDeclinedFraudulent", 402, "fraudulent"),
    ],
)
async def test_stripe_test_payment_method_ids(
    api: Api, test_id: str, status: int, decline_code: str | None
) -> None:
    data = {"amount": "1500", "currency": "usd", "payment_method": test_id, "confirm": "true"}
    first = await api.post("/v1/payment_intents", data)
    second = await api.post("/v1/payment_intents", data)
    assert first.status_code == second.status_code == status, first.text
    if status == 200:
        assert first.json()["status"] == "succeeded"
        methods = {first.json()["payment_method"], second.json()["payment_method"]}
    else:
        assert first.json()["error"]["decline_code"] == decline_code
        methods = {r.json()["error"]["payment_intent"]["payment_method"] for r in (first, second)}
    assert len(methods) == 2 and all(m.startswith("pm_") and m != test_id for m in methods)


async def test_unknown_payment_method_id_is_404_on_payment_method(api: Api) -> None:
    response = await api.post(
        "/v1/payment_intents",
        {"amount": "100", "currency": "usd", "payment_method": "pm_card_nonsense"},
    )
    assert response.status_code == 404
    assert response.json()["error"]["param"] == "payment_method"
