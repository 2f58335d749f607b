"""The OpenAI adapter against a fake of POST /v1/chat/completions (request and response
shapes from https://platform.openai.com/docs/api-reference/chat)."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest

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
from smartpay.llm.openai import OpenAiLlm
from tests.llm.fakes import VOTE, VOTE_SCHEMA, FakeApi, HttpProvider

HELLO = LlmRequest(
    system="You are terse.",
    messages=(
        LlmMessage(Role.USER, "Hi"),
        LlmMessage(Role.ASSISTANT, "Hello."),
        LlmMessage(Role.USER, "Say hello again"),
    ),
    max_tokens=50,
    temperature=0.3,
)


def completion(content: str | None, **message: Any) -> httpx2.Response:
    return httpx2.Response(
        200,
        json={
            "id": "chatcmpl-123",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, **message},
                    "logprobs": None,
                    "finish_reason": message.pop("finish_reason", "stop"),
                }
            ],
            "usage": {"prompt_tokens": 1000, "completion_tokens": 200, "total_tokens": 1200},
        },
    )


def error(status: int, code: str, headers: dict[str, str] | None = None) -> httpx2.Response:
    return httpx2.Response(
        status,
        headers=headers,
        json={"error": {"message": "details", "type": "error", "param": None, "code": code}},
    )


def adapter(api: FakeApi, timeout_seconds: float = 5.0) -> OpenAiLlm:
    return OpenAiLlm(
        api_key="sk-test",
        model="gpt-4o-mini",
        timeout_seconds=timeout_seconds,
        http_client=api.client(),
    )


# The contract every httpx-based adapter shares: test_http_adapters.py.
PROVIDER = HttpProvider("openai", adapter, completion)


async def test_text_request_is_a_chat_completion_without_response_format() -> None:
    api = FakeApi().answer(completion("Hello!"))
    response = await adapter(api).complete(HELLO)

    request = api.requests[0]
    assert request.method == "POST"
    assert request.url.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-test"
    assert api.body() == {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello."},
            {"role": "user", "content": "Say hello again"},
        ],
        "max_completion_tokens": 50,
        "temperature": 0.3,
    }
    assert response.text == "Hello!"
    assert response.data is None
    assert response.provider == "openai"
    assert response.model == "gpt-4o-mini-2024-07-18"
    assert response.usage == Usage(1000, 200)
    # 1000 x 0.15 + 200 x 0.60 per million (the dated release is priced as gpt-4o-mini).
    assert response.cost_usd == pytest.approx(0.00027)
    assert response.latency_ms > 0


async def test_json_schema_request_uses_structured_outputs_and_returns_the_object() -> None:
    vote = {"decision": "review", "reason": "new device, high amount"}
    api = FakeApi().answer(completion(json.dumps(vote)))
    response = await adapter(api).complete(VOTE)

    assert api.body()["response_format"] == {
        "type": "json_schema",
        "json_schema": {
            "name": "risk_vote",
            "description": "A vote on a risky payment.",
            "schema": dict(VOTE_SCHEMA.schema),
            "strict": True,
        },
    }
    assert response.data == vote
    assert response.json() == vote


async def test_json_without_schema_uses_json_mode_and_says_json() -> None:
    api = FakeApi().answer(completion('{"intent": "other"}'))
    request = LlmRequest(messages=(LlmMessage(Role.USER, "hmm"),), json_output=True)
    response = await adapter(api).complete(request)

    body = api.body()
    assert body["response_format"] == {"type": "json_object"}
    # JSON mode is refused by OpenAI unless a message mentions JSON.
    assert body["messages"][0]["role"] == "system"
    assert "JSON" in body["messages"][0]["content"]
    assert response.data == {"intent": "other"}


async def test_rate_limit_carries_retry_after_and_is_not_retried() -> None:
    api = FakeApi().answer(
        error(429, "rate_limit_exceeded", {"retry-after": "7"}), completion("retried")
    )
    with pytest.raises(LlmRateLimited) as caught:
        await adapter(api).complete(HELLO)
    assert caught.value.retry_after_seconds == 7
    assert caught.value.retryable
    assert len(api.requests) == 1


async def test_retry_after_ms_is_preferred() -> None:
    api = FakeApi().answer(
        error(429, "rate_limit_exceeded", {"retry-after-ms": "1500", "retry-after": "2"})
    )
    with pytest.raises(LlmRateLimited) as caught:
        await adapter(api).complete(HELLO)
    assert caught.value.retry_after_seconds == 1.5


async def test_exhausted_quota_is_a_rejection_not_a_rate_limit() -> None:
    api = FakeApi().answer(error(429, "insufficient_quota"))
    with pytest.raises(LlmRejected) as caught:
        await adapter(api).complete(HELLO)
    assert not caught.value.retryable


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors_are_unavailable_and_not_retried(status: int) -> None:
    api = FakeApi().answer(error(status, "server_error"), completion("retried"))
    with pytest.raises(LlmUnavailable) as caught:
        await adapter(api).complete(HELLO)
    assert caught.value.status_code == status
    assert len(api.requests) == 1


@pytest.mark.parametrize(
    "answer",
    [
        completion("Sure! I would approve it."),
        completion('{"decision": "maybe", "reason": "?"}'),
        completion('{"decision": "approve"}'),
        completion(None, refusal="I can't help with that."),
        completion('{"decision": "appro', finish_reason="length"),
    ],
    ids=["prose", "value-outside-enum", "missing-field", "refusal", "cut-at-max-tokens"],
)
async def test_json_that_is_missing_or_off_schema_is_bad_output(answer: httpx2.Response) -> None:
    api = FakeApi().answer(answer)
    with pytest.raises(LlmBadOutput):
        await adapter(api).complete(VOTE)


@pytest.mark.parametrize("status", [401, 403])
async def test_auth_failure(status: int) -> None:
    api = FakeApi().answer(error(status, "invalid_api_key"))
    with pytest.raises(LlmAuthFailed):
        await adapter(api).complete(HELLO)


async def test_errors_never_quote_the_provider_body() -> None:
    api = FakeApi().answer(
        httpx2.Response(
            400,
            json={
                "error": {"message": "Invalid: 'Say hello again'", "type": "invalid_request_error"}
            },
        )
    )
    with pytest.raises(LlmRejected) as caught:
        await adapter(api).complete(HELLO)
    assert "hello" not in str(caught.value).lower()
    assert caught.value.__cause__ is None
    assert caught.value.status_code == 400
