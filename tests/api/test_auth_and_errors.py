import base64

from tests.conftest import Api


async def test_missing_key_is_401_in_stripe_shape(api: Api) -> None:
    response = await api.client.get("/v1/customers")
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert "API key" in error["message"]


async def test_wrong_key_is_401_and_does_not_echo_it(api: Api) -> None:
    response = await api.get("/v1/customers", key="sk_test_notarealkeyatall0000")
    assert response.status_code == 401
    assert "notarealkeyatall" not in response.text


async def test_basic_auth_with_key_as_user_name(api: Api) -> None:
    token = base64.b64encode(f"{api.keys.secret_key}:".encode()).decode()
    response = await api.client.get("/v1/customers", headers={"Authorization": f"Basic {token}"})
    assert response.status_code == 200
    assert response.json()["object"] == "list"


async def test_publishable_key_may_only_create_payment_methods(api: Api) -> None:
    pk = api.keys.publishable_key
    card = {
        "type": "card",
        "card[number]": "4242424242424242",
        "card[exp_month]": "12",
        "card[exp_year]": "2031",
        "card[cvc]": "123",
    }
    created = await api.post("/v1/payment_methods", card, key=pk)
    assert created.status_code == 200, created.text
    assert (await api.get("/v1/customers", key=pk)).status_code == 403
    assert (await api.post("/v1/customers", {"email": "a@b.co"}, key=pk)).status_code == 403
    retrieved = await api.get(f"/v1/payment_methods/{created.json()['id']}", key=pk)
    assert retrieved.status_code == 403


async def test_unknown_route_and_unknown_parameter(api: Api) -> None:
    missing = await api.get("/v1/nothing_here")
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "invalid_request_error"
    unknown = await api.post("/v1/customers", {"colour": "blue"})
    assert unknown.status_code == 400
    assert unknown.json()["error"]["param"] == "colour"


async def test_broken_json_and_huge_bodies_are_4xx(api: Api) -> None:
    broken = await api.client.post(
        "/v1/customers",
        content=b"{not json",
        headers={**api.auth(), "Content-Type": "application/json"},
    )
    assert broken.status_code == 400
    huge = await api.client.post(
        "/v1/customers",
        content=b"a=" + b"x" * 2_000_000,
        headers={**api.auth(), "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert huge.status_code == 413
    bad_utf8 = await api.client.post(
        "/v1/customers",
        content=b"name=\xff\xfe",
        headers={**api.auth(), "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert bad_utf8.status_code == 400


async def test_openapi_and_docs_are_served(api: Api) -> None:
    spec = (await api.client.get("/openapi.json")).json()
    assert "/v1/payment_intents" in spec["paths"]
    assert "PaymentIntentCreate" in spec["components"]["schemas"]
    assert (await api.client.get("/docs")).status_code == 200
