"""The contract the httpx-based adapters (OpenAI, Anthropic, Gemini, OpenAI-compatible
local servers) share, run on each against its provider's fake (``fakes.FakeApi``): the
adapter's own deadline, the SDK's timeout, an unreachable server, closing the injected
client, and no prompt or answer in the logs. Bedrock (boto3, no httpx) has the same
cases in test_bedrock.py."""

from __future__ import annotations

import logging

import pytest

from smartpay.llm.base import LlmTimeout, LlmUnavailable
from tests.llm import test_anthropic, test_gemini, test_openai, test_openai_compatible
from tests.llm.fakes import GREETING, FakeApi, HttpProvider, refused, timeout

PROVIDERS = [
    test_openai.PROVIDER,
    test_anthropic.PROVIDER,
    test_gemini.PROVIDER,
    test_openai_compatible.PROVIDER,
]


@pytest.fixture(params=PROVIDERS, ids=[p.name for p in PROVIDERS])
def provider(request: pytest.FixtureRequest) -> HttpProvider:
    chosen: HttpProvider = request.param
    return chosen


async def test_adapter_deadline_ends_a_slow_call(provider: HttpProvider) -> None:
    # The slow server does answer: only the adapter's own deadline can make it a timeout.
    api = FakeApi(delay=2.0).answer(provider.text("too late"))
    with pytest.raises(LlmTimeout):
        await provider.adapter(api, 0.05).complete(GREETING)


async def test_sdk_timeout_is_a_timeout_and_not_retried(provider: HttpProvider) -> None:
    api = FakeApi().answer(timeout, provider.text("retried"))
    with pytest.raises(LlmTimeout):
        await provider.adapter(api, 1.5).complete(GREETING)
    assert len(api.requests) == 1
    assert api.requests[0].extensions["timeout"]["read"] == 1.5


async def test_timeout_is_passed_to_the_sdk(provider: HttpProvider) -> None:
    api = FakeApi().answer(provider.text("ok"))
    response = await provider.adapter(api, 1.5).complete(GREETING)
    assert response.text == "ok"
    assert api.requests[0].extensions["timeout"]["read"] == 1.5


async def test_server_not_reachable_is_unavailable(provider: HttpProvider) -> None:
    api = FakeApi().answer(refused, provider.text("retried"))
    with pytest.raises(LlmUnavailable):
        await provider.adapter(api, 5.0).complete(GREETING)
    assert len(api.requests) == 1


async def test_close_closes_the_injected_http_client(provider: HttpProvider) -> None:
    api = FakeApi()
    llm = provider.adapter(api, 1.0)
    http_client = api.clients[-1]
    assert not http_client.is_closed
    await llm.close()
    assert http_client.is_closed


async def test_no_prompt_or_answer_reaches_the_logs_even_at_debug(
    provider: HttpProvider, caplog: pytest.LogCaptureFixture
) -> None:
    # The SDKs log their request options (the messages) at DEBUG.
    caplog.set_level(logging.DEBUG)
    api = FakeApi().answer(provider.text("Hello from the model!"))
    response = await provider.adapter(api, 5.0).complete(GREETING)
    assert response.text == "Hello from the model!"
    assert caplog.records, "the adapter logs its call (metadata only)"
    for needle in ("You are terse.", "Say hello again", "Hello from the model!"):
        assert needle not in caplog.text
