"""The Anthropic adapter against a fake of POST /v1/messages (shapes from
https://docs.anthropic.com/en/api/messages and /en/api/errors)."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from smartpay.llm.anthropic import AnthropicLlm
from smartpay.llm.base import (
    LlmAuthFailed,
    LlmBadOutput,
    LlmMessage,
    LlmRateLimited,
    LlmRejected,
    LlmRequest,
    LlmUnavailable,
    Role,
    Usage,
)
from tests.llm.fakes import VOTE, VOTE_SCHEMA, FakeApi, HttpProvider

HELLO = LlmRequest(
    system="You are terse.",
    messages=(
        # A leading assistant turn (the bot's greeting) and two user turns in a row:
        # the adapter sends an alternating conversation that starts with the user.
        LlmMessage(Role.ASSISTANT, "Welcome!"),
        LlmMessage(Role.USER, "Hi"),
        LlmMessage(Role.USER, "Say hello"),
    ),
    max_tokens=50,
)


def message(content: list[dict[str, Any]], stop_reason: str = "end_turn") -> httpx2.Response:
    return httpx2.Response(
        200,
        json={
            "id": "msg_01",
            "type": "message",
            "role": "assistant",
            "model": "claude-haiku-4-5-20251001",
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {"input_tokens": 1000, "output_tokens": 100},
        },
    )


def tool_use(name: str, data: dict[str, Any]) -> httpx2.Response:
    return message(
        [{"type": "tool_use", "id": "toolu_01", "name": name, "input": data}], "tool_use"
    )


def error(status: int, kind: str, headers: dict[str, str] | None = None) -> httpx2.Response:
    return httpx2.Response(
        status,
        headers=headers,
        json={"type": "error", "error": {"type": kind, "message": "details"}},
    )


def adapter(api: FakeApi, timeout_seconds: float = 5.0) -> AnthropicLlm:
    return AnthropicLlm(
        api_key="sk-ant-test",
        model="claude-haiku-4-5",
        timeout_seconds=timeout_seconds,
        http_client=api.client(),
    )


# The contract every httpx-based adapter shares: test_http_adapters.py.
PROVIDER = HttpProvider(
    "anthropic", adapter, lambda text: message([{"type": "text", "text": text}])
)


async def test_text_request_is_a_message_without_tools() -> None:
    api = FakeApi().answer(message([{"type": "text", "text": "Hello!"}]))
    response = await adapter(api).complete(HELLO)

    request = api.requests[0]
    assert request.url.path == "/v1/messages"
    # SDK 2.x sends the key as a bearer token.
    assert request.headers["authorization"] == "Bearer sk-ant-test"
    assert "anthropic-version" in request.headers
    assert api.body() == {
        "model": "claude-haiku-4-5",
        "max_tokens": 50,
        "system": "You are terse.",
        "messages": [{"role": "user", "content": "Hi\n\nSay hello"}],
    }
    assert response.text == "Hello!"
    assert response.model == "claude-haiku-4-5-20251001"
    assert response.usage == Usage(1000, 100)
    # 1000 x 1.00 + 100 x 5.00 per million.
    assert response.cost_usd == pytest.approx(0.0015)


async def test_json_schema_is_one_forced_tool_and_its_input_is_the_answer() -> None:
    vote = {"decision": "decline", "reason": "card testing pattern"}
    api = FakeApi().answer(tool_use("risk_vote", vote))
    response = await adapter(api).complete(VOTE)

    body = api.body()
    assert body["tools"] == [
        {
            "name": "risk_vote",
            "description": "A vote on a risky payment.",
            "input_schema": dict(VOTE_SCHEMA.schema),
        }
    ]
    assert body["tool_choice"] == {"type": "tool", "name": "risk_vote"}
    assert response.data == vote
    assert response.json() == vote


async def test_json_without_schema_uses_an_any_object_tool() -> None:
    api = FakeApi().answer(tool_use("json_answer", {"intent": "other"}))
    request = LlmRequest(messages=(LlmMessage(Role.USER, "hmm"),), json_output=True)
    response = await adapter(api).complete(request)

    assert api.body()["tools"][0]["input_schema"] == {"type": "object"}
    assert api.body()["tool_choice"] == {"type": "tool", "name": "json_answer"}
    assert response.data == {"intent": "other"}


async def test_rate_limit_carries_retry_after_and_is_not_retried() -> None:
    api = FakeApi().answer(
        error(429, "rate_limit_error", {"retry-after": "12"}),
        message([{"type": "text", "text": "retried"}]),
    )
    with pytest.raises(LlmRateLimited) as caught:
        await adapter(api).complete(HELLO)
    assert caught.value.retry_after_seconds == 12
    assert len(api.requests) == 1


@pytest.mark.parametrize(
    ("status", "kind"), [(500, "api_error"), (529, "overloaded_error"), (503, "api_error")]
)
async def test_server_errors_and_overload_are_unavailable(status: int, kind: str) -> None:
    api = FakeApi().answer(error(status, kind), message([{"type": "text", "text": "retried"}]))
    with pytest.raises(LlmUnavailable) as caught:
        await adapter(api).complete(HELLO)
    assert caught.value.status_code == status
    assert kind in str(caught.value)
    assert len(api.requests) == 1


@pytest.mark.parametrize(
    "answer",
    [
        message([{"type": "text", "text": "I'd approve it."}]),
        tool_use("risk_vote", {"decision": "approve"}),
        tool_use("risk_vote", {"decision": "approve", "reason": "ok", "extra": 1}),
        tool_use("other_tool", {"decision": "approve", "reason": "ok"}),
        message([{"type": "tool_use", "id": "t", "name": "risk_vote", "input": {}}], "max_tokens"),
    ],
    ids=["no-tool-call", "missing-field", "extra-field", "wrong-tool", "cut-at-max-tokens"],
)
async def test_json_missing_or_off_schema_is_bad_output(answer: httpx2.Response) -> None:
    api = FakeApi().answer(answer)
    with pytest.raises(LlmBadOutput):
        await adapter(api).complete(VOTE)


@pytest.mark.parametrize(
    ("status", "kind"), [(401, "authentication_error"), (403, "permission_error")]
)
async def test_auth_failure(status: int, kind: str) -> None:
    api = FakeApi().answer(error(status, kind))
    with pytest.raises(LlmAuthFailed):
        await adapter(api).complete(HELLO)


async def test_bad_request_is_rejected_without_quoting_the_body() -> None:
    api = FakeApi().answer(
        httpx2.Response(
            400,
            json={
                "type": "error",
                "error": {"type": "invalid_request_error", "message": "bad: 'Say hello'"},
            },
        )
    )
    with pytest.raises(LlmRejected) as caught:
        await adapter(api).complete(HELLO)
    assert "hello" not in str(caught.value).lower()
    assert caught.value.__cause__ is None


async def test_a_conversation_without_a_user_message_is_rejected_before_sending() -> None:
    api = FakeApi()
    request = LlmRequest(messages=(LlmMessage(Role.ASSISTANT, "Welcome!"),))
    with pytest.raises(LlmRejected):
        await adapter(api).complete(request)
    assert api.requests == []
