"""The chat's edges, reviewed: card data pasted where it does not belong is never sent
back, the rate limits (per IP and per session, default 10 a second) answer 429 with
Retry-After, and errors carry CORS headers so a widget on the merchant's site can read
them (an expired session, a rate limit)."""

from __future__ import annotations

import logging

import httpx
import pytest

from smartpay.chat import store as chat_store
from smartpay.chat.cors import ChatCors
from smartpay.chat.ratelimit import RateLimiter
from smartpay.config import Settings
from tests.card_scan import card_data_in_text
from tests.chat.helpers import open_session, say
from tests.conftest import Api

PAN = "4242424242424242"
SHOP = "https://shop.example"


class FrozenClock:
    """The limiter's clock, moved by hand: the test never depends on how fast it runs."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _freeze_limiter(api: Api, rate: float) -> FrozenClock:
    clock = FrozenClock()
    api.app.state.chat_limiter = RateLimiter(rate, clock=clock)  # type: ignore[attr-defined]
    return clock


def _allow_shop(api: Api) -> None:
    origins = f'{{"{api.keys.merchant_id}": ["{SHOP}"]}}'
    api.app.state.chat_cors = ChatCors(Settings(chat_cors_origins=origins))  # type: ignore[attr-defined]


async def test_a_card_number_in_place_of_a_session_id_is_not_sent_back(api: Api) -> None:
    responses = [
        await api.client.get(f"/session/{PAN}"),
        await api.client.get(f"/session/chat_{PAN}"),
        await api.client.delete(f"/session/chat_{PAN}"),
        await say(api, "chat_4242 4242 4242 4242", "hi"),
        await say(api, f"chat_{PAN}", "hi"),
    ]
    for response in responses:
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "resource_missing"
        assert card_data_in_text(response.text, [PAN]) == []
        assert "4242 4242" not in response.text


async def test_card_data_in_a_refused_body_is_not_sent_back(api: Api) -> None:
    key = api.keys.publishable_key
    too_long = await say(api, None, "x" * 1990 + f" {PAN} 737", key=key)
    unknown = await api.client.post(
        "/chat", json={"message": "hi", "card": PAN, "cvc": "737"}, headers=api.auth(key)
    )
    for response in (too_long, unknown):
        assert response.status_code == 400
        assert card_data_in_text(response.text, [PAN]) == []
        assert "737" not in response.text


def test_the_default_rate_is_ten_a_second() -> None:
    assert Settings().chat_rate_limit_per_second == 10


async def test_default_rate_per_session_answers_429_with_retry_after(
    api: Api, settings: Settings
) -> None:
    clock = _freeze_limiter(api, settings.chat_rate_limit_per_second)
    session = await open_session(api)
    codes = [(await say(api, session["id"], "help")).status_code for _ in range(10)]
    assert codes == [200] * 10
    limited = await say(api, session["id"], "help")
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "1"
    assert limited.json()["error"]["type"] == "rate_limit_error"
    clock.now += 1.0
    assert (await say(api, session["id"], "help")).status_code == 200


async def test_rate_per_ip_covers_every_session_of_that_ip(api: Api) -> None:
    clock = _freeze_limiter(api, 3)
    sessions = [await open_session(api) for _ in range(4)]
    codes = [(await say(api, s["id"], "help")).status_code for s in sessions]
    assert codes == [200, 200, 200, 429]  # four fresh sessions, one address
    # another address is counted on its own
    transport = httpx.ASGITransport(app=api.app, client=("203.0.113.9", 50000))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        response = await other.post("/chat", json={"sessionId": sessions[3]["id"], "message": "?"})
    assert response.status_code == 200
    # a new session from the limited address is refused too, and says when to retry
    start = await say(api, None, "hi", key=api.keys.publishable_key)
    assert start.status_code == 429 and int(start.headers["Retry-After"]) >= 1
    clock.now += 1.0
    assert (await say(api, sessions[0]["id"], "help")).status_code == 200


async def test_errors_carry_cors_headers_for_an_allowed_origin(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    _allow_shop(api)
    session = await open_session(api)
    shop = {"Origin": SHOP}
    missing = await api.client.get("/session/chat_nope", headers=shop)
    assert missing.status_code == 404
    assert missing.headers["access-control-allow-origin"] == SHOP
    evil = await api.client.get("/session/chat_nope", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in evil.headers

    _freeze_limiter(api, 1)
    assert (await say(api, session["id"], "help")).status_code == 200
    limited = await api.client.post(
        "/chat", json={"sessionId": session["id"], "message": "help"}, headers=shop
    )
    assert limited.status_code == 429
    assert limited.headers["access-control-allow-origin"] == SHOP
    assert limited.headers["cache-control"] == "no-store"

    _freeze_limiter(api, 100)
    monkeypatch.setattr(chat_store, "now", lambda: session["expires_at"] + 1)
    expired = await api.client.post(
        "/chat", json={"sessionId": session["id"], "message": "John Smith"}, headers=shop
    )
    assert expired.status_code == 410
    assert expired.headers["access-control-allow-origin"] == SHOP
    assert "expired" in expired.json()["error"]["message"]


async def test_preflight_for_the_session_routes(api: Api) -> None:
    _allow_shop(api)
    preflight = await api.client.options(
        "/session/chat_abc", headers={"Origin": SHOP, "Access-Control-Request-Method": "DELETE"}
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == SHOP
    assert "DELETE" in preflight.headers["access-control-allow-methods"]
    refused = await api.client.options(
        "/session/chat_abc",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "DELETE"},
    )
    assert "access-control-allow-origin" not in refused.headers


async def test_logs_keep_only_the_start_of_a_session_id(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    session = await open_session(api)
    for message in ("Ann Lee, 4242 4242 4242 4242, 12/29, 737", "yes"):
        assert (await say(api, session["id"], message)).status_code == 200
    assert (await api.client.get(f"/session/{session['id']}")).json()["status"] == "completed"
    # SmartPay's own logs (drivers log their SQL parameters at DEBUG, outside our hands).
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("smartpay")]
    assert any(session["id"][:13] in line for line in lines)  # still traceable
    assert not [line for line in lines if session["id"] in line]
