"""The live event stream (/v1/stream): committed events in order, resumption from a
cursor without gaps or duplicates, authentication, and merchant isolation."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.helpers import pay
from tests.conftest import Api
from tests.events.websocket import WebSocketClient

# A successful automatic-capture payment raises these events, in this order.
PAYMENT_EVENTS = [
    "payment_intent.created",
    "charge.succeeded",
    "charge.captured",
    "payment_intent.succeeded",
]
# Longer than a poll (200 ms) plus the commit lag the tests run with: a duplicate or a
# stray event would have arrived by then.
QUIET_SECONDS = 0.8

# PostgreSQL streams an event once its id is this old; kept short so the tests are quick.
pytestmark = pytest.mark.settings(stream_commit_lag_seconds=0.2)


async def _event_ids(api: Api, key: str | None = None) -> list[str]:
    """Every event of the merchant, oldest first, as the REST API lists them."""
    listed = (await api.get("/v1/events", params={"limit": "100"}, key=key)).json()
    return [event["id"] for event in reversed(listed["data"])]


async def _paid(api: Api, key: str | None = None) -> None:
    response = await pay(api) if key is None else await _pay_as(api, key)
    assert response.status_code == 200, response.text


async def _pay_as(api: Api, key: str) -> Any:
    method = await api.post(
        "/v1/payment_methods",
        {
            "type": "card",
            "card[number]": "4242424242424242",
            "card[exp_month]": "12",
            "card[exp_year]": "2031",
            "card[cvc]": "123",
        },
        key=key,
    )
    return await api.post(
        "/v1/payment_intents",
        {
            "amount": "1500",
            "currency": "eur",
            "payment_method": method.json()["id"],
            "confirm": "true",
        },
        key=key,
    )


async def test_stream_delivers_committed_events_in_order(api: Api) -> None:
    async with WebSocketClient(api.app, key=api.keys.secret_key) as socket:
        ready = await socket.receive_json()
        assert ready["object"] == "stream.ready" and ready["cursor"].startswith("evt_")
        await _paid(api)
        await _paid(api)
        frames = await socket.receive_events(2 * len(PAYMENT_EVENTS))
        await socket.assert_quiet(QUIET_SECONDS)
    assert [frame["type"] for frame in frames] == PAYMENT_EVENTS * 2
    assert [frame["id"] for frame in frames] == await _event_ids(api)
    # Each frame is exactly the event as GET /v1/events/{id} renders it.
    retrieved = (await api.get(f"/v1/events/{frames[3]['id']}")).json()
    assert frames[3] == retrieved
    assert frames[3]["data"]["object"]["status"] == "succeeded"


async def test_stream_resumes_from_since_without_gaps_or_duplicates(api: Api) -> None:
    async with WebSocketClient(api.app, key=api.keys.secret_key) as socket:
        await socket.receive_json()
        await _paid(api)
        first = await socket.receive_events(len(PAYMENT_EVENTS))
    seen = [frame["id"] for frame in first[:2]]  # the client handled two, then dropped
    # While nobody listens, more events are committed.
    await _paid(api)
    async with WebSocketClient(
        api.app, key=api.keys.secret_key, params={"since": seen[-1]}
    ) as socket:
        ready = await socket.receive_json()
        assert ready["cursor"] == seen[-1]
        backlog = await socket.receive_events(2 + len(PAYMENT_EVENTS))
        await _paid(api)  # and live ones follow the backlog
        live = await socket.receive_events(len(PAYMENT_EVENTS))
        await socket.assert_quiet(QUIET_SECONDS)
    received = seen + [frame["id"] for frame in backlog + live]
    assert received == await _event_ids(api)
    assert len(set(received)) == len(received) == 3 * len(PAYMENT_EVENTS)


async def test_stream_since_the_latest_event_sends_only_new_ones(api: Api) -> None:
    await _paid(api)
    latest = (await _event_ids(api))[-1]
    async with WebSocketClient(api.app, key=api.keys.secret_key, params={"since": latest}) as s:
        await s.receive_json()
        await s.assert_quiet(QUIET_SECONDS)


async def test_stream_filters_by_type(api: Api) -> None:
    params = [("types", "payment_intent.*"), ("types", "charge.captured")]
    async with WebSocketClient(api.app, key=api.keys.secret_key, params=params) as socket:
        await socket.receive_json()
        await _paid(api)
        frames = await socket.receive_events(3)
        await socket.assert_quiet(QUIET_SECONDS)
    assert [f["type"] for f in frames] == [
        "payment_intent.created",
        "charge.captured",
        "payment_intent.succeeded",
    ]


async def test_stream_accepts_the_key_as_first_message(api: Api) -> None:
    async with WebSocketClient(api.app) as socket:
        await socket.send_json({"type": "auth", "key": api.keys.secret_key})
        assert (await socket.receive_json())["object"] == "stream.ready"
        await _paid(api)
        frames = await socket.receive_events(len(PAYMENT_EVENTS))
    assert [frame["type"] for frame in frames] == PAYMENT_EVENTS


@pytest.mark.parametrize(
    ("key", "first_message", "code"),
    [
        ("sk_test_not_a_real_key_at_all_0000", None, 4401),
        (None, {"type": "auth", "key": "sk_test_wrong"}, 4401),
        (None, {"type": "hello"}, 4401),
        (None, "not json", 4401),
        ("publishable", None, 4403),
    ],
)
async def test_stream_refuses_bad_keys(
    api: Api, key: str | None, first_message: Any, code: int
) -> None:
    if key == "publishable":
        key = api.keys.publishable_key
    async with WebSocketClient(api.app, key=key) as socket:
        if first_message is not None:
            await socket.send_json(first_message)
        closed = await socket.expect_close()
    assert closed.code == code
    assert "sk_test_not_a_real_key_at_all_0000" not in closed.reason  # keys are masked


@pytest.mark.parametrize(
    "params",
    [{"since": "pi_123"}, {"since": "evt_short"}, {"types": "Bad Type!"}],
)
async def test_stream_refuses_malformed_parameters(api: Api, params: dict[str, str]) -> None:
    async with WebSocketClient(api.app, key=api.keys.secret_key, params=params) as socket:
        closed = await socket.expect_close()
    assert closed.code == 4400


async def test_stream_never_shows_another_merchants_events(api: Api) -> None:
    await _paid(api)  # before the other merchant connects: a since-less stream skips it
    mine = await _event_ids(api)
    # Resuming from the very first event of the other merchant's competitor must not leak.
    async with WebSocketClient(
        api.app, key=api.other.secret_key, params={"since": "evt_000000000000000000000000"}
    ) as socket:
        await socket.receive_json()
        await _paid(api)
        await _paid(api, key=api.other.secret_key)
        frames = await socket.receive_events(len(PAYMENT_EVENTS))
        await socket.assert_quiet(QUIET_SECONDS)
    theirs = await _event_ids(api, key=api.other.secret_key)
    assert [frame["id"] for frame in frames] == theirs
    assert not set(theirs) & set(await _event_ids(api)) and mine
