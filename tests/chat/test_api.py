"""The chat API's contract: keys and scopes, masked session data, cancel and purge,
expiry, rate limits, CORS, brand rules, and the LLM fallbacks."""

from __future__ import annotations

import asyncio

import pytest

from smartpay.chat import service as chat_service
from smartpay.chat import store as chat_store
from smartpay.kit.ids import new_secret
from smartpay.llm.base import LlmRequest, LlmResponse, LlmUnavailable
from tests.chat.helpers import RecordingLlm, open_session, say
from tests.conftest import Api


async def test_publishable_key_starts_a_session_that_saves_a_card(api: Api) -> None:
    first = await say(api, None, "hi", key=api.keys.publishable_key)
    assert first.status_code == 200
    body = first.json()
    assert body["status"] == "collecting" and body["currentField"] == "name"
    sid = body["sessionId"]
    reply = (await say(api, sid, "Zoë O'Neil, 5555 5555 5555 4444, 12/29, 737")).json()
    assert reply["status"] == "confirming" and reply["currentField"] == "confirmation"
    assert "Mastercard •••• 4444, 12/29" in reply["response"]
    done = (await say(api, sid, "yes")).json()
    assert done["status"] == "completed" and done["currentField"] is None
    described = (await api.client.get(f"/session/{sid}")).json()
    pm = described["collected"]["payment_method"]
    method = (await api.get(f"/v1/payment_methods/{pm}")).json()
    assert method["card"]["last4"] == "4444"
    assert method["billing_details"]["name"] == "Zoë O'Neil"
    assert described["history"][1]["text"] == "Zoë O'Neil, •••• 4444, 12/29, •••"


async def test_without_key_or_session_is_refused(api: Api) -> None:
    response = await say(api, None, "hi")
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "invalid_request_error"


async def test_publishable_key_cannot_open_a_paid_session(api: Api) -> None:
    response = await api.client.post(
        "/v1/chat_sessions",
        json={"amount": 100, "currency": "usd"},
        headers=api.auth(api.keys.publishable_key),
    )
    assert response.status_code == 403
    # and still may not do anything else outside payment methods and the chat
    assert (await api.get("/v1/payment_intents", key=api.keys.publishable_key)).status_code == 403


async def test_session_link_and_other_merchant_cannot_see_it(api: Api) -> None:
    session = await open_session(api, 1250)
    assert session["url"].endswith(f"/pay/{session['id']}")
    assert session["amount"] == 1250 and session["currency"] == "usd"
    other = await api.client.get(
        f"/session/{session['id']}", headers=api.auth(api.other.publishable_key)
    )
    assert other.status_code == 404
    mine = await api.client.get(
        f"/session/{session['id']}", headers=api.auth(api.keys.publishable_key)
    )
    assert mine.status_code == 200
    assert (await api.client.get("/session/chat_doesnotexist")).status_code == 404


async def test_delete_cancels_and_purges(api: Api) -> None:
    session = await open_session(api)
    sid = session["id"]
    await say(api, sid, "John Smith, 4242 4242 4242 4242, 12/27, 737")
    deleted = await api.client.delete(f"/session/{sid}")
    assert deleted.status_code == 200
    body = deleted.json()
    assert body["status"] == "cancelled" and body["deleted"] is True
    assert body["collected"]["card"] is None and body["history"] == []
    assert api.app.state.cvc_store.__len__() == 0  # type: ignore[attr-defined]
    after = (await say(api, sid, "yes")).json()
    assert after["status"] == "cancelled"


async def test_a_session_used_after_its_ttl_says_it_expired(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = await open_session(api)
    sid = session["id"]
    await say(api, sid, "John Smith")
    later = session["expires_at"] + 1
    monkeypatch.setattr(chat_store, "now", lambda: later)
    response = await say(api, sid, "4242424242424242")
    assert response.status_code == 410
    error = response.json()["error"]
    assert error["code"] == "chat_session_expired"
    assert "expired" in error["message"]


@pytest.mark.settings(chat_rate_limit_per_second=3)
async def test_rate_limit_per_session_answers_429_with_retry_after(api: Api) -> None:
    session = await open_session(api)
    codes = [(await say(api, session["id"], "help")).status_code for _ in range(5)]
    assert codes[:3] == [200, 200, 200]
    limited = await say(api, session["id"], "help")
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.json()["error"]["type"] == "rate_limit_error"


@pytest.mark.settings(chat_cors_origins='{"*": ["https://everyone.example"]}')
async def test_cors_origin_allowed_for_all_merchants(api: Api) -> None:
    response = await api.client.post(
        "/chat",
        json={"message": "hi"},
        headers={**api.auth(api.keys.publishable_key), "Origin": "https://everyone.example"},
    )
    assert response.headers["access-control-allow-origin"] == "https://everyone.example"
    denied = await api.client.post(
        "/chat",
        json={"message": "hi"},
        headers={**api.auth(api.keys.publishable_key), "Origin": "https://evil.example"},
    )
    assert "access-control-allow-origin" not in denied.headers
    preflight = await api.client.options(
        "/chat",
        headers={"Origin": "https://everyone.example", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 204
    assert "POST" in preflight.headers["access-control-allow-methods"]


async def test_cors_per_merchant(api: Api) -> None:
    from smartpay.chat.cors import ChatCors
    from smartpay.config import Settings

    settings = Settings(chat_cors_origins=f'{{"{api.keys.merchant_id}": ["https://shop.example"]}}')
    api.app.state.chat_cors = ChatCors(settings)  # type: ignore[attr-defined]
    own = await api.client.post(
        "/chat",
        json={"message": "hi"},
        headers={**api.auth(api.keys.publishable_key), "Origin": "https://shop.example"},
    )
    assert own.headers["access-control-allow-origin"] == "https://shop.example"
    other = await api.client.post(
        "/chat",
        json={"message": "hi"},
        headers={**api.auth(api.other.publishable_key), "Origin": "https://shop.example"},
    )
    assert "access-control-allow-origin" not in other.headers


@pytest.mark.settings(chat_accepted_brands="visa,mastercard")
async def test_brand_not_accepted_is_said_plainly(api: Api) -> None:
    session = await open_session(api)
    await say(api, session["id"], "Ann Lee")
    reply = (await say(api, session["id"], "3782 822463 10005")).json()
    assert "American Express cards aren't accepted" in reply["response"]
    assert reply["currentField"] == "card"


async def test_specific_reasons(api: Api) -> None:
    session = await open_session(api)
    sid = session["id"]
    await say(api, sid, "Ann Lee")
    luhn = (await say(api, sid, "4242 4242 4242 4241")).json()["response"]
    assert "Luhn" in luhn
    await say(api, sid, "378282246310005")
    expired = (await say(api, sid, "01/21")).json()["response"]
    assert "expired" in expired
    await say(api, sid, "12/27")
    amex = (await say(api, sid, "123")).json()["response"]
    assert "4 digits" in amex and "American Express" in amex


class _SlowLlm(RecordingLlm):
    async def complete(self, request: LlmRequest) -> LlmResponse:
        await asyncio.sleep(5)
        raise AssertionError("unreachable")


class _BrokenLlm(RecordingLlm):
    async def complete(self, request: LlmRequest) -> LlmResponse:
        raise LlmUnavailable("503")


class _LeakyLlm(RecordingLlm):
    async def complete(self, request: LlmRequest) -> LlmResponse:
        return LlmResponse("Your card 4111 1111 1111 1111 costs 999999", "fake", "m", 1.0)


@pytest.mark.settings(llm_timeout_seconds=0.05)
@pytest.mark.parametrize("model", [_SlowLlm, _BrokenLlm, _LeakyLlm])
async def test_a_slow_failing_or_inventive_model_falls_back_to_templates(
    api: Api, model: type[RecordingLlm]
) -> None:
    api.app.state.chat.llm = model()  # type: ignore[attr-defined]
    session = await open_session(api)
    reply = (await say(api, session["id"], "what?? blorp")).json()
    assert reply["response"].endswith("What is the name on the card?")
    assert "4111" not in reply["response"]


async def test_model_classifies_what_the_parser_cannot(api: Api) -> None:
    class Classifier(RecordingLlm):
        async def complete(self, request: LlmRequest) -> LlmResponse:
            if request.json_output:
                return LlmResponse('{"intent": "question_security"}', "fake", "m", 1.0)
            return await super().complete(request)

    api.app.state.chat.llm = Classifier()  # type: ignore[attr-defined]
    session = await open_session(api)
    reply = (await say(api, session["id"], "r u legit?? 😅")).json()
    assert "encrypted vault" in reply["response"]
    assert reply["currentField"] == "name"


def test_session_ids_are_long_random_capabilities() -> None:
    ids = {
        new_secret(chat_service.SESSION_ID_PREFIX, chat_service.SESSION_ID_RANDOM_CHARS)
        for _ in range(50)
    }
    assert len(ids) == 50 and all(len(i) == 37 for i in ids)
