from tests.conftest import Api


async def test_customer_lifecycle(api: Api) -> None:
    created = await api.post(
        "/v1/customers", {"email": "jenny@example.com", "name": "Jenny", "metadata[tier]": "gold"}
    )
    assert created.status_code == 200, created.text
    customer = created.json()
    assert customer["id"].startswith("cus_")
    assert customer["object"] == "customer" and customer["livemode"] is False
    assert customer["metadata"] == {"tier": "gold"}
    assert isinstance(customer["created"], int)

    updated = await api.post(
        f"/v1/customers/{customer['id']}", {"name": "Jen", "metadata[tier]": "", "metadata[a]": "1"}
    )
    assert updated.json()["name"] == "Jen"
    assert updated.json()["metadata"] == {"a": "1"}

    fetched = await api.get(f"/v1/customers/{customer['id']}")
    assert fetched.json()["email"] == "jenny@example.com"

    deleted = await api.client.delete(f"/v1/customers/{customer['id']}", headers=api.auth())
    assert deleted.json() == {"id": customer["id"], "object": "customer", "deleted": True}
    assert (await api.get(f"/v1/customers/{customer['id']}")).status_code == 404


async def test_list_pagination_both_directions(api: Api) -> None:
    ids = [(await api.post("/v1/customers", {"name": f"c{i}"})).json()["id"] for i in range(7)]
    newest_first = list(reversed(ids))
    page1 = (await api.get("/v1/customers", params={"limit": 3})).json()
    assert [c["id"] for c in page1["data"]] == newest_first[:3]
    assert page1["has_more"] is True and page1["url"] == "/v1/customers"
    page2 = (
        await api.get("/v1/customers", params={"limit": 3, "starting_after": newest_first[2]})
    ).json()
    assert [c["id"] for c in page2["data"]] == newest_first[3:6]
    page3 = (
        await api.get("/v1/customers", params={"limit": 3, "starting_after": newest_first[5]})
    ).json()
    assert [c["id"] for c in page3["data"]] == newest_first[6:]
    assert page3["has_more"] is False
    back = (
        await api.get("/v1/customers", params={"limit": 2, "ending_before": newest_first[3]})
    ).json()
    assert [c["id"] for c in back["data"]] == newest_first[1:3]
    assert back["has_more"] is True


async def test_list_limit_bounds(api: Api) -> None:
    for bad in ("0", "101", "abc"):
        response = await api.get("/v1/customers", params={"limit": bad})
        assert response.status_code == 400
        assert response.json()["error"]["param"] == "limit"


async def test_idempotent_create_replays_and_refuses_other_params(api: Api) -> None:
    headers = {"Idempotency-Key": "cust-1"}
    first = await api.post("/v1/customers", {"email": "a@b.co"}, headers=headers)
    second = await api.post("/v1/customers", {"email": "a@b.co"}, headers=headers)
    assert second.status_code == 200
    assert second.json() == first.json()
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert "Idempotent-Replayed" not in first.headers
    different = await api.post("/v1/customers", {"email": "c@d.co"}, headers=headers)
    assert different.status_code == 400
    assert different.json()["error"]["type"] == "idempotency_error"
    listed = (await api.get("/v1/customers")).json()["data"]
    assert len(listed) == 1


async def test_idempotency_keys_are_scoped_per_merchant(api: Api) -> None:
    headers = {"Idempotency-Key": "shared"}
    mine = await api.post("/v1/customers", {"email": "a@b.co"}, headers=headers)
    theirs = await api.post(
        "/v1/customers", {"email": "a@b.co"}, headers=headers, key=api.other.secret_key
    )
    assert theirs.status_code == 200
    assert theirs.json()["id"] != mine.json()["id"]
