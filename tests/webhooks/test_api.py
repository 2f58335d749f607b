"""/v1/webhook_endpoints: Stripe's shapes, the secret shown once, isolation, bad input."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from smartpay.kit.db import Database
from smartpay.webhooks.models import DELIVERY_TRANSITIONS, DeliveryStatus, webhook_secrets
from tests.conftest import Api
from tests.webhooks.helpers import create_endpoint, deliveries, raise_events

pytestmark = pytest.mark.settings(webhook_allow_loopback=True)

URL = "http://127.0.0.1:9/hook"


async def test_crud_and_secret_shown_once(api: Api, database: Database) -> None:
    created = await create_endpoint(
        api, URL, ("payment_intent.succeeded", "charge.refunded"), description="orders"
    )
    assert created["object"] == "webhook_endpoint"
    assert created["id"].startswith("we_")
    assert created["secret"].startswith("whsec_")
    assert created["status"] == "enabled"
    assert created["enabled_events"] == ["payment_intent.succeeded", "charge.refunded"]
    assert created["description"] == "orders"
    assert created["livemode"] is False and created["metadata"] == {}
    endpoint_id = created["id"]

    fetched = (await api.get(f"/v1/webhook_endpoints/{endpoint_id}")).json()
    assert "secret" not in fetched
    assert fetched == {k: v for k, v in created.items() if k != "secret"}

    updated = await api.post(
        f"/v1/webhook_endpoints/{endpoint_id}",
        {"enabled_events[0]": "*", "disabled": "true", "metadata[team]": "ops"},
    )
    assert updated.status_code == 200, updated.text
    body = updated.json()
    assert body["enabled_events"] == ["*"]
    assert body["status"] == "disabled"
    assert body["metadata"] == {"team": "ops"}
    assert "secret" not in body
    enabled = (await api.post(f"/v1/webhook_endpoints/{endpoint_id}", {"disabled": "false"})).json()
    assert enabled["status"] == "enabled"

    second = await create_endpoint(api, "http://127.0.0.1:10/other")
    listed = (await api.get("/v1/webhook_endpoints", params={"limit": 1})).json()
    assert listed["object"] == "list" and listed["has_more"] is True
    assert [e["id"] for e in listed["data"]] == [second["id"]]
    assert all("secret" not in e for e in listed["data"])

    deleted = await api.client.delete(f"/v1/webhook_endpoints/{endpoint_id}", headers=api.auth())
    assert deleted.json() == {"id": endpoint_id, "object": "webhook_endpoint", "deleted": True}
    assert (await api.get(f"/v1/webhook_endpoints/{endpoint_id}")).status_code == 404
    listed = (await api.get("/v1/webhook_endpoints")).json()
    assert [e["id"] for e in listed["data"]] == [second["id"]]

    # The secret is stored only sealed: no column anywhere holds it in clear.
    async with database.transaction() as session:
        rows = (await session.execute(sa.select(webhook_secrets))).all()
        assert len(rows) == 2
        for table in ("webhook_secrets", "webhook_endpoints", "idempotency_keys"):
            dump = str((await session.execute(sa.text(f"SELECT * FROM {table}"))).all())
            assert created["secret"] not in dump


async def test_idempotent_replay_does_not_reveal_the_secret(api: Api, database: Database) -> None:
    form = {"url": URL, "enabled_events[0]": "*"}
    headers = {"Idempotency-Key": "create-endpoint-1"}
    first = await api.post("/v1/webhook_endpoints", form, headers=headers)
    replay = await api.post("/v1/webhook_endpoints", form, headers=headers)
    assert first.json()["secret"].startswith("whsec_")
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json()["id"] == first.json()["id"]
    assert replay.json()["secret"] is None
    async with database.transaction() as session:
        dump = str((await session.execute(sa.text("SELECT * FROM idempotency_keys"))).all())
    assert first.json()["secret"] not in dump


async def test_rotate_secret_returns_a_new_secret(api: Api) -> None:
    created = await create_endpoint(api, URL)
    rotated = await api.post(f"/v1/webhook_endpoints/{created['id']}/rotate_secret")
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["secret"].startswith("whsec_")
    assert rotated.json()["secret"] != created["secret"]


async def test_other_merchants_endpoint_is_not_found(api: Api, database: Database) -> None:
    created = await create_endpoint(api, URL)
    endpoint_id = created["id"]
    other = api.other.secret_key
    assert (await api.get(f"/v1/webhook_endpoints/{endpoint_id}", key=other)).status_code == 404
    update = await api.post(f"/v1/webhook_endpoints/{endpoint_id}", {"description": "x"}, key=other)
    assert update.status_code == 404
    assert update.json()["error"]["code"] == "resource_missing"
    rotate = await api.post(f"/v1/webhook_endpoints/{endpoint_id}/rotate_secret", key=other)
    assert rotate.status_code == 404
    delete = await api.client.delete(
        f"/v1/webhook_endpoints/{endpoint_id}", headers=api.auth(other)
    )
    assert delete.status_code == 404
    assert (await api.get("/v1/webhook_endpoints", key=other)).json()["data"] == []
    # An event's delivery log and retry are the event owner's only.
    [event_id] = await raise_events(database, api.keys.merchant_id, 1)
    assert (await api.get(f"/v1/events/{event_id}/deliveries", key=other)).status_code == 404
    assert (await api.post(f"/v1/events/{event_id}/retry", key=other)).status_code == 404
    assert await deliveries(api, event_id) == []


@pytest.mark.parametrize(
    ("form", "param"),
    [
        ({"enabled_events[0]": "*"}, "url"),
        ({"url": URL}, "enabled_events"),
        ({"url": URL, "enabled_events[0]": "not an event"}, "enabled_events[0]"),
        ({"url": "ftp://example.com/hook", "enabled_events[0]": "*"}, "url"),
        ({"url": "http://user:pw@127.0.0.1/hook", "enabled_events[0]": "*"}, "url"),
        ({"url": "http:///nohost", "enabled_events[0]": "*"}, "url"),
        ({"url": URL, "enabled_events[0]": "*", "bogus": "1"}, "bogus"),
    ],
)
async def test_bad_input_is_a_400_naming_the_param(
    api: Api, form: dict[str, object], param: str
) -> None:
    response = await api.post("/v1/webhook_endpoints", form)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param


async def test_unknown_endpoint_is_a_404(api: Api) -> None:
    response = await api.get("/v1/webhook_endpoints/we_missing")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_delivery_transitions_cover_every_status() -> None:
    assert set(DELIVERY_TRANSITIONS) == set(DeliveryStatus)
    for status, following in DELIVERY_TRANSITIONS.items():
        assert following <= set(DeliveryStatus)
        # Every status can come back to pending (a retry) and only pending moves forward.
        assert DeliveryStatus.PENDING in following
        if status is not DeliveryStatus.PENDING:
            assert following == {DeliveryStatus.PENDING}
