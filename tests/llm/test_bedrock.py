"""The Bedrock adapter on a real boto3 ``bedrock-runtime`` client: botocore's Stubber
checks each Converse request against the service model and answers documented shapes
(https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html); a
``before-send`` hook (``fakes.bedrock_sending``) stands in for the network where a slow
or timing-out transport is needed."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import pytest
from botocore.stub import Stubber

from smartpay.llm.base import (
    LlmAuthFailed,
    LlmBadOutput,
    LlmMessage,
    LlmRateLimited,
    LlmRejected,
    LlmRequest,
    LlmTimeout,
    LlmUnavailable,
    Role,
    Usage,
)
from smartpay.llm.bedrock import DEFAULT_MODEL, BedrockLlm, map_bedrock_error
from smartpay.llm.common import json_instruction
from tests.llm.fakes import VOTE, aws_response, bedrock_client, bedrock_sending

HELLO = LlmRequest(
    system="You are terse.",
    messages=(
        LlmMessage(Role.ASSISTANT, "Welcome!"),
        LlmMessage(Role.USER, "Hi"),
        LlmMessage(Role.ASSISTANT, "Hello."),
        LlmMessage(Role.USER, "Again"),
    ),
    max_tokens=50,
    temperature=0.3,
)
A_VOTE = {"decision": "decline", "reason": "velocity"}


def converse_answer(text: str, stop_reason: str = "end_turn") -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": stop_reason,
        "usage": {"inputTokens": 1000, "outputTokens": 1000, "totalTokens": 2000},
        "metrics": {"latencyMs": 120},
    }


@pytest.fixture
def stubbed() -> Iterator[tuple[BedrockLlm, Stubber]]:
    bedrock = bedrock_client()
    with Stubber(bedrock) as stubber:
        yield BedrockLlm(timeout_seconds=5, client=bedrock), stubber
        stubber.assert_no_pending_responses()


def expected_json_params(request: LlmRequest) -> dict[str, Any]:
    return {
        "modelId": DEFAULT_MODEL,
        "messages": [{"role": "user", "content": [{"text": request.messages[0].content}]}],
        "inferenceConfig": {"maxTokens": 256, "temperature": 0.2},
        "system": [{"text": json_instruction(request)}],
    }


async def test_text_request_is_a_converse_call(stubbed: tuple[BedrockLlm, Stubber]) -> None:
    llm, stubber = stubbed
    stubber.add_response(
        "converse",
        converse_answer("Hello!"),
        expected_params={
            "modelId": "us.meta.llama3-2-1b-instruct-v1:0",
            # The leading assistant greeting is dropped: Converse wants the user first.
            "messages": [
                {"role": "user", "content": [{"text": "Hi"}]},
                {"role": "assistant", "content": [{"text": "Hello."}]},
                {"role": "user", "content": [{"text": "Again"}]},
            ],
            "system": [{"text": "You are terse."}],
            "inferenceConfig": {"maxTokens": 50, "temperature": 0.3},
        },
    )
    response = await llm.complete(HELLO)
    assert response.text == "Hello!"
    assert response.provider == "bedrock"
    assert response.model == DEFAULT_MODEL
    assert response.usage == Usage(1000, 1000)
    # 1000 x 0.10 + 1000 x 0.10 per million.
    assert response.cost_usd == pytest.approx(0.0002)


async def test_json_is_asked_by_instruction_and_parsed(stubbed: tuple[BedrockLlm, Stubber]) -> None:
    llm, stubber = stubbed
    stubber.add_response(
        "converse",
        converse_answer(f"Sure. {json.dumps(A_VOTE)}"),
        expected_params=expected_json_params(VOTE),
    )
    response = await llm.complete(VOTE)
    assert "JSON Schema" in json_instruction(VOTE)
    assert response.data == A_VOTE
    assert response.json() == A_VOTE


async def test_throttling_carries_retry_after_and_is_not_retried(
    stubbed: tuple[BedrockLlm, Stubber],
) -> None:
    llm, stubber = stubbed
    stubber.add_client_error(
        "converse",
        service_error_code="ThrottlingException",
        http_status_code=429,
        response_meta={"HTTPHeaders": {"retry-after": "5"}},
    )
    with pytest.raises(LlmRateLimited) as caught:
        await llm.complete(HELLO)
    assert caught.value.retry_after_seconds == 5


def test_the_adapter_client_makes_one_attempt_with_the_timeouts() -> None:
    bedrock = bedrock_client(region="eu-west-1", timeout_seconds=1.5)
    assert bedrock.meta.region_name == "eu-west-1"
    assert bedrock.meta.config.retries == {"total_max_attempts": 1, "mode": "standard"}
    assert bedrock.meta.config.read_timeout == 1.5
    assert bedrock.meta.config.connect_timeout == 1.5


async def test_retries_are_off_at_the_transport() -> None:
    # A throttled first attempt, counted at the send: botocore would retry a 429.
    sent: list[Any] = []

    def throttled(request: Any, **_: Any) -> Any:
        sent.append(request)
        headers = {"x-amzn-ErrorType": "ThrottlingException", "retry-after": "2"}
        return aws_response(request, 429, {"message": "Too many requests"}, headers)

    with pytest.raises(LlmRateLimited) as caught:
        await bedrock_sending(throttled).complete(HELLO)
    assert len(sent) == 1
    assert sent[0].url.endswith("/model/us.meta.llama3-2-1b-instruct-v1%3A0/converse")
    assert caught.value.retry_after_seconds == 2


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("InternalServerException", 500),
        ("ServiceUnavailableException", 503),
        ("ModelNotReadyException", 429),
        ("ModelErrorException", 424),
    ],
)
async def test_server_side_failures_are_unavailable(
    stubbed: tuple[BedrockLlm, Stubber], code: str, status: int
) -> None:
    llm, stubber = stubbed
    stubber.add_client_error("converse", service_error_code=code, http_status_code=status)
    with pytest.raises(LlmUnavailable):
        await llm.complete(HELLO)


async def test_model_timeout_is_a_timeout(stubbed: tuple[BedrockLlm, Stubber]) -> None:
    llm, stubber = stubbed
    stubber.add_client_error(
        "converse", service_error_code="ModelTimeoutException", http_status_code=408
    )
    with pytest.raises(LlmTimeout):
        await llm.complete(HELLO)


async def test_adapter_deadline_ends_a_slow_call() -> None:
    # The slow model does answer in the end: only the adapter's own deadline can turn
    # this call into a timeout (no clock is read by the test).
    def slow(request: Any, **_: Any) -> Any:
        time.sleep(0.5)
        return aws_response(request, 200, converse_answer("too late"))

    with pytest.raises(LlmTimeout):
        await bedrock_sending(slow, timeout_seconds=0.05).complete(HELLO)


async def test_sdk_read_timeout_is_a_timeout() -> None:
    def timed_out(request: Any, **_: Any) -> Any:
        raise botocore.exceptions.ReadTimeoutError(endpoint_url=request.url)

    with pytest.raises(LlmTimeout):
        await bedrock_sending(timed_out).complete(HELLO)


async def test_unreachable_endpoint_is_unavailable() -> None:
    def unreachable(request: Any, **_: Any) -> Any:
        raise botocore.exceptions.EndpointConnectionError(endpoint_url=request.url)

    with pytest.raises(LlmUnavailable):
        await bedrock_sending(unreachable).complete(HELLO)


@pytest.mark.parametrize(
    ("text", "stop_reason"),
    [
        ("I would decline it.", "end_turn"),
        ('{"decision": "decline"}', "end_turn"),
        ('{"decision": "nope", "reason": "x"}', "end_turn"),
        ('{"decision": "decline", "reas', "max_tokens"),
    ],
    ids=["prose", "missing-field", "outside-enum", "cut-at-max-tokens"],
)
async def test_json_missing_or_off_schema_is_bad_output(
    stubbed: tuple[BedrockLlm, Stubber], text: str, stop_reason: str
) -> None:
    llm, stubber = stubbed
    stubber.add_response("converse", converse_answer(text, stop_reason))
    with pytest.raises(LlmBadOutput):
        await llm.complete(VOTE)


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("AccessDeniedException", 403),
        ("UnrecognizedClientException", 403),
        ("ExpiredTokenException", 400),
    ],
)
async def test_auth_failures(stubbed: tuple[BedrockLlm, Stubber], code: str, status: int) -> None:
    llm, stubber = stubbed
    stubber.add_client_error("converse", service_error_code=code, http_status_code=status)
    with pytest.raises(LlmAuthFailed):
        await llm.complete(HELLO)


def test_missing_credentials_are_an_auth_failure() -> None:
    assert isinstance(
        map_bedrock_error(botocore.exceptions.NoCredentialsError(), "bedrock"), LlmAuthFailed
    )


async def test_validation_error_is_rejected_without_quoting_the_message(
    stubbed: tuple[BedrockLlm, Stubber],
) -> None:
    llm, stubber = stubbed
    stubber.add_client_error(
        "converse",
        service_error_code="ValidationException",
        service_message="Malformed input: 'Again'",
        http_status_code=400,
    )
    with pytest.raises(LlmRejected) as caught:
        await llm.complete(HELLO)
    assert "Again" not in str(caught.value)
    assert caught.value.__cause__ is None


async def test_no_prompt_or_answer_reaches_the_logs_even_at_debug(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Through botocore's real send path (it logs whole requests at DEBUG), answered at
    # the transport.
    caplog.set_level(logging.DEBUG)

    def answered(request: Any, **_: Any) -> Any:
        return aws_response(request, 200, converse_answer("Hello from Llama!"))

    response = await bedrock_sending(answered).complete(HELLO)
    assert response.text == "Hello from Llama!"
    assert caplog.records
    for needle in ("You are terse.", "Again", "Hello from Llama!"):
        assert needle not in caplog.text
