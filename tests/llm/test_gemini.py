"""The Gemini adapter against a fake of models/{model}:generateContent, injected as
google-genai's httpx_async_client (shapes from
https://ai.google.dev/api/generate-content and /gemini-api/docs/troubleshooting)."""

from __future__ import annotations

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
from smartpay.llm.gemini import GeminiLlm
from tests.llm.fakes import VOTE, VOTE_SCHEMA, FakeApi, HttpProvider

HELLO = LlmRequest(
    system="You are terse.",
    messages=(
        LlmMessage(Role.USER, "Hi"),
        LlmMessage(Role.ASSISTANT, "Hello."),
        LlmMessage(Role.USER, "Again"),
    ),
    max_tokens=50,
    temperature=0.3,
)


def generated(text: str, finish: str = "STOP") -> httpx2.Response:
    return httpx2.Response(
        200,
        json={
            "candidates": [
                {
                    "content": {"role": "model", "parts": [{"text": text}]},
                    "finishReason": finish,
                    "index": 0,
                }
            ],
            "usageMetadata": {
                "promptTokenCount": 1000,
                "candidatesTokenCount": 500,
                "totalTokenCount": 1500,
            },
            "modelVersion": "gemini-2.0-flash-001",
        },
    )


def error(
    status: int, kind: str, details: list[dict[str, Any]] | None = None, **headers: str
) -> httpx2.Response:
    return httpx2.Response(
        status,
        headers=headers,
        json={
            "error": {
                "code": status,
                "message": "details",
                "status": kind,
                "details": details or [],
            }
        },
    )


def adapter(api: FakeApi, timeout_seconds: float = 5.0) -> GeminiLlm:
    return GeminiLlm(
        api_key="gm-test",
        model="gemini-2.0-flash",
        timeout_seconds=timeout_seconds,
        http_client=api.client(),
    )


# The contract every httpx-based adapter shares: test_http_adapters.py.
PROVIDER = HttpProvider("gemini", adapter, generated)


async def test_text_request_is_generate_content_without_a_json_mime_type() -> None:
    api = FakeApi().answer(generated("Hello!"))
    response = await adapter(api).complete(HELLO)

    request = api.requests[0]
    assert request.method == "POST"
    assert request.url.path.endswith("/models/gemini-2.0-flash:generateContent")
    assert request.headers["x-goog-api-key"] == "gm-test"
    assert api.body() == {
        "contents": [
            {"role": "user", "parts": [{"text": "Hi"}]},
            {"role": "model", "parts": [{"text": "Hello."}]},
            {"role": "user", "parts": [{"text": "Again"}]},
        ],
        "systemInstruction": {"role": "user", "parts": [{"text": "You are terse."}]},
        "generationConfig": {"temperature": 0.3, "maxOutputTokens": 50},
    }
    assert response.text == "Hello!"
    assert response.model == "gemini-2.0-flash-001"
    assert response.usage == Usage(1000, 500)
    # 1000 x 0.10 + 500 x 0.40 per million.
    assert response.cost_usd == pytest.approx(0.0003)


async def test_json_schema_request_sends_mime_type_and_json_schema() -> None:
    api = FakeApi().answer(generated('{"decision": "approve", "reason": "known customer"}'))
    response = await adapter(api).complete(VOTE)

    config = api.body()["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseJsonSchema"] == dict(VOTE_SCHEMA.schema)
    assert "responseSchema" not in config
    assert response.data == {"decision": "approve", "reason": "known customer"}


async def test_json_without_schema_sends_only_the_mime_type() -> None:
    api = FakeApi().answer(generated('{"intent": "other"}'))
    request = LlmRequest(messages=(LlmMessage(Role.USER, "hmm"),), json_output=True)
    response = await adapter(api).complete(request)

    config = api.body()["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert "responseJsonSchema" not in config
    assert response.data == {"intent": "other"}


async def test_rate_limit_carries_the_retry_info_delay_and_is_not_retried() -> None:
    retry_info = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "17s"}
    api = FakeApi().answer(error(429, "RESOURCE_EXHAUSTED", [retry_info]), generated("retried"))
    with pytest.raises(LlmRateLimited) as caught:
        await adapter(api).complete(HELLO)
    assert caught.value.retry_after_seconds == 17
    assert len(api.requests) == 1


async def test_rate_limit_without_retry_info_falls_back_to_the_header() -> None:
    api = FakeApi().answer(error(429, "RESOURCE_EXHAUSTED", None, **{"retry-after": "4"}))
    with pytest.raises(LlmRateLimited) as caught:
        await adapter(api).complete(HELLO)
    assert caught.value.retry_after_seconds == 4


@pytest.mark.parametrize(("status", "kind"), [(500, "INTERNAL"), (503, "UNAVAILABLE")])
async def test_server_errors_are_unavailable_and_not_retried(status: int, kind: str) -> None:
    api = FakeApi().answer(error(status, kind), generated("retried"))
    with pytest.raises(LlmUnavailable) as caught:
        await adapter(api).complete(HELLO)
    assert caught.value.status_code == status
    assert len(api.requests) == 1


@pytest.mark.parametrize(
    "answer",
    [
        generated("I would approve."),
        generated('{"decision": "approve"}'),
        generated('{"decision": "appr', finish="MAX_TOKENS"),
        generated("", finish="SAFETY"),
        httpx2.Response(200, json={"candidates": []}),
    ],
    ids=["prose", "missing-field", "cut-at-max-tokens", "blocked", "no-candidate"],
)
async def test_json_missing_or_off_schema_is_bad_output(answer: httpx2.Response) -> None:
    api = FakeApi().answer(answer)
    with pytest.raises(LlmBadOutput):
        await adapter(api).complete(VOTE)


async def test_invalid_api_key_is_an_auth_failure_although_gemini_says_400() -> None:
    reason = {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "API_KEY_INVALID",
        "domain": "googleapis.com",
    }
    api = FakeApi().answer(error(400, "INVALID_ARGUMENT", [reason]))
    with pytest.raises(LlmAuthFailed):
        await adapter(api).complete(HELLO)


async def test_permission_denied_is_an_auth_failure() -> None:
    api = FakeApi().answer(error(403, "PERMISSION_DENIED"))
    with pytest.raises(LlmAuthFailed):
        await adapter(api).complete(HELLO)


async def test_other_bad_requests_are_rejected() -> None:
    api = FakeApi().answer(error(400, "INVALID_ARGUMENT"))
    with pytest.raises(LlmRejected) as caught:
        await adapter(api).complete(HELLO)
    assert caught.value.__cause__ is None
