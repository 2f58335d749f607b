"""The OpenAI-compatible adapter (Ollama, llama.cpp, vLLM) against a fake of their
POST /v1/chat/completions (https://github.com/ollama/ollama/blob/main/docs/openai.md)."""

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
from smartpay.llm.openai_compatible import DEFAULT_BASE_URL, JsonMode, OpenAiCompatibleLlm
from tests.chat.helpers import open_session, say
from tests.conftest import Api
from tests.llm.fakes import VOTE, VOTE_SCHEMA, FakeApi, HttpProvider

HELLO = LlmRequest(system="You are terse.", messages=(LlmMessage(Role.USER, "Hi"),), max_tokens=40)
A_VOTE = {"decision": "review", "reason": "new device"}


def completion(content: str, *, usage: bool = True) -> httpx2.Response:
    body: dict[str, Any] = {
        "id": "chatcmpl-42",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "llama3.2:1b",
        "system_fingerprint": "fp_ollama",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
    }
    if usage:
        body["usage"] = {"prompt_tokens": 30, "completion_tokens": 8, "total_tokens": 38}
    return httpx2.Response(200, json=body)


def error(status: int, message: str = "error", **headers: str) -> httpx2.Response:
    return httpx2.Response(
        status,
        headers=headers,
        json={"error": {"message": message, "type": "invalid_request_error"}},
    )


def adapter(
    api: FakeApi, *, json_mode: JsonMode = "auto", timeout_seconds: float = 5.0
) -> OpenAiCompatibleLlm:
    return OpenAiCompatibleLlm(
        model="llama3.2:1b",
        timeout_seconds=timeout_seconds,
        json_mode=json_mode,
        http_client=api.client(),
    )


# The contract every httpx-based adapter shares: test_http_adapters.py.
PROVIDER = HttpProvider(
    "local", lambda api, seconds: adapter(api, timeout_seconds=seconds), completion
)


async def test_text_request_goes_to_the_local_server_without_a_key() -> None:
    api = FakeApi().answer(completion("Hello!"))
    response = await adapter(api).complete(HELLO)

    request = api.requests[0]
    assert str(request.url) == f"{DEFAULT_BASE_URL}/chat/completions"
    # A placeholder: local servers ignore it, the SDK insists on one.
    assert request.headers["authorization"] == "Bearer not-needed"
    assert api.body() == {
        "model": "llama3.2:1b",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Hi"},
        ],
        "max_tokens": 40,
        "temperature": 0.2,
    }
    assert response.text == "Hello!"
    assert response.provider == "local"
    assert response.usage == Usage(30, 8)
    # Self-hosted: no list price.
    assert response.cost_usd is None


async def test_missing_usage_is_reported_as_none() -> None:
    api = FakeApi().answer(completion("Hello!", usage=False))
    response = await adapter(api).complete(HELLO)
    assert response.usage is None
    assert response.cost_usd is None


async def test_json_asks_json_object_and_puts_the_schema_in_the_instruction() -> None:
    api = FakeApi().answer(completion(json.dumps(A_VOTE)))
    response = await adapter(api).complete(VOTE)

    body = api.body()
    assert body["response_format"] == {"type": "json_object"}
    system = body["messages"][0]
    assert system["role"] == "system"
    assert json.dumps(VOTE_SCHEMA.schema, separators=(",", ":")) in system["content"]
    assert response.data == A_VOTE


async def test_server_refusing_json_object_gets_the_instruction_alone_from_then_on() -> None:
    api = FakeApi().answer(
        error(400, "unknown field response_format"),
        completion(f"Here you go: {json.dumps(A_VOTE)} Hope it helps."),
        completion(json.dumps(A_VOTE)),
    )
    llm = adapter(api)
    first = await llm.complete(VOTE)
    second = await llm.complete(VOTE)

    assert [("response_format" in api.body(i)) for i in range(3)] == [True, False, False]
    assert "JSON Schema" in api.body(1)["messages"][0]["content"]
    assert first.data == A_VOTE
    assert second.data == A_VOTE


async def test_no_fallback_once_the_server_has_accepted_json_object() -> None:
    api = FakeApi().answer(completion(json.dumps(A_VOTE)), error(400))
    llm = adapter(api)
    await llm.complete(VOTE)
    with pytest.raises(LlmRejected):
        await llm.complete(VOTE)
    assert len(api.requests) == 2


async def test_json_mode_instruction_never_sends_response_format() -> None:
    api = FakeApi().answer(completion(f"```json\n{json.dumps(A_VOTE)}\n```"))
    response = await adapter(api, json_mode="instruction").complete(VOTE)
    assert "response_format" not in api.body()
    assert response.data == A_VOTE


async def test_json_mode_json_object_does_not_fall_back() -> None:
    api = FakeApi().answer(error(400), completion(json.dumps(A_VOTE)))
    with pytest.raises(LlmRejected):
        await adapter(api, json_mode="json_object").complete(VOTE)
    assert len(api.requests) == 1


async def test_rate_limit_carries_retry_after() -> None:
    api = FakeApi().answer(error(429, **{"retry-after": "3"}), completion("retried"))
    with pytest.raises(LlmRateLimited) as caught:
        await adapter(api).complete(HELLO)
    assert caught.value.retry_after_seconds == 3
    assert len(api.requests) == 1


async def test_server_error_is_unavailable_and_not_retried() -> None:
    api = FakeApi().answer(error(500, "model crashed"), completion("retried"))
    with pytest.raises(LlmUnavailable):
        await adapter(api).complete(HELLO)
    assert len(api.requests) == 1


@pytest.mark.parametrize(
    "content",
    ["I think it is fine.", '{"decision": "approve"}', '["approve"]', '{"decision": "ok", "reason'],
    ids=["prose", "missing-field", "not-an-object", "truncated"],
)
async def test_json_missing_or_off_schema_is_bad_output(content: str) -> None:
    api = FakeApi().answer(completion(content))
    with pytest.raises(LlmBadOutput):
        await adapter(api).complete(VOTE)


async def test_server_started_with_an_api_key_rejects_a_wrong_one() -> None:
    api = FakeApi().answer(error(401, "invalid api key"))
    llm = OpenAiCompatibleLlm(api_key="local-secret", timeout_seconds=1, http_client=api.client())
    with pytest.raises(LlmAuthFailed):
        await llm.complete(HELLO)
    assert api.requests[0].headers["authorization"] == "Bearer local-secret"


async def test_the_chat_classifies_through_the_real_adapter(api: Api) -> None:
    """The chat and the adapter together: the classification request reaches the server
    as JSON mode, the phrasing request as text, and the answer steers the dialogue."""

    def server(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        if "response_format" in body:
            return completion('{"intent": "question_security"}')
        template = body["messages"][-1]["content"].removeprefix("Reply to rewrite: ")
        return completion(template)

    fake = FakeApi()
    fake.answer(*[server] * 10)
    llm = OpenAiCompatibleLlm(timeout_seconds=2, http_client=fake.client())
    api.app.state.chat.llm = llm  # type: ignore[attr-defined]
    session = await open_session(api)
    reply = (await say(api, session["id"], "r u legit?? 😅")).json()

    assert "encrypted vault" in reply["response"]
    assert reply["currentField"] == "name"
    assert any("response_format" in fake.body(i) for i in range(len(fake.requests)))
