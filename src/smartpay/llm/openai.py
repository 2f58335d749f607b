"""OpenAI Chat Completions (``POST /v1/chat/completions``) through the official SDK.

JSON with a schema uses Structured Outputs (``response_format`` ``json_schema``); JSON
without one uses JSON mode (``json_object``); otherwise plain text. The answer is parsed
and checked against the schema here too, so a model or proxy that ignores the format
yields ``LlmBadOutput``. The helpers at the bottom are shared with the OpenAI-compatible
adapter for local servers.
"""

from __future__ import annotations

import logging
import time

import httpx2
import openai
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam
from openai.types.chat.completion_create_params import ResponseFormat
from openai.types.shared_params.response_format_json_schema import JSONSchema

from smartpay.llm.base import (
    LlmAuthFailed,
    LlmBadOutput,
    LlmError,
    LlmRateLimited,
    LlmRejected,
    LlmRequest,
    LlmResponse,
    LlmTimeout,
    LlmUnavailable,
    Price,
    Usage,
)
from smartpay.llm.common import (
    cost_of,
    elapsed_ms,
    json_instruction,
    parse_json_text,
    price_for,
    quiet_sdk_loggers,
    retry_after_seconds,
    system_with,
    within_deadline,
)

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "gpt-4o-mini"

# List prices, USD per million input / output tokens (standard tier), from
# https://openai.com/api/pricing as of 2025. Dated releases (gpt-4o-mini-2024-07-18)
# cost what their base id costs. Unlisted models report cost_usd=None.
OPENAI_PRICES: dict[str, Price] = {
    "gpt-4o-mini": Price(0.15, 0.60),
    "gpt-4o": Price(2.50, 10.00),
    "gpt-4.1": Price(2.00, 8.00),
    "gpt-4.1-mini": Price(0.40, 1.60),
    "gpt-4.1-nano": Price(0.10, 0.40),
}

# OpenAI answers 429 both for "slow down" and for "your quota is spent"; only the first
# passes with time (https://platform.openai.com/docs/guides/error-codes).
_QUOTA_EXHAUSTED = "insufficient_quota"


class OpenAiLlm:
    provider = "openai"

    def __init__(
        self,
        *,
        api_key: str,
        model: str = DEFAULT_MODEL,
        base_url: str | None = None,
        timeout_seconds: float,
        http_client: httpx2.AsyncClient | None = None,
    ) -> None:
        self.model = model
        self.timeout_seconds = timeout_seconds
        quiet_sdk_loggers("openai")
        self._client = openai.AsyncOpenAI(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout_seconds,
            # No SDK retries (its default is 2 with backoff): one call is one request,
            # so latency is bounded and the caller decides whether to try again.
            max_retries=0,
            http_client=http_client,
        )

    async def complete(self, request: LlmRequest) -> LlmResponse:
        response_format: ResponseFormat | openai.Omit = openai.omit
        system = request.system
        if request.json_schema is not None:
            json_schema: JSONSchema = {
                "name": request.json_schema.name,
                "schema": dict(request.json_schema.schema),
                "strict": request.json_schema.strict,
            }
            if request.json_schema.description:
                json_schema["description"] = request.json_schema.description
            response_format = {"type": "json_schema", "json_schema": json_schema}
        elif request.json_output:
            response_format = {"type": "json_object"}
            # JSON mode refuses a request whose messages never say "JSON"
            # (https://platform.openai.com/docs/guides/structured-outputs#json-mode).
            system = system_with(request, json_instruction(request))
        started = time.perf_counter()
        try:
            completion = await within_deadline(
                self.timeout_seconds,
                self.provider,
                lambda: self._client.chat.completions.create(
                    model=self.model,
                    messages=chat_messages(system, request),
                    max_completion_tokens=request.max_tokens,
                    temperature=request.temperature,
                    response_format=response_format,
                ),
            )
        except openai.OpenAIError as exc:
            # `from None`: SDK messages quote response bodies, and a logged traceback
            # would print them.
            raise map_openai_error(exc, self.provider) from None
        return read_completion(
            completion, request, self.provider, self.model, started, OPENAI_PRICES
        )

    async def close(self) -> None:
        await self._client.close()


# ---------------------------------------------------------------- shared helpers


def chat_messages(system: str | None, request: LlmRequest) -> list[ChatCompletionMessageParam]:
    messages: list[ChatCompletionMessageParam] = []
    if system:
        messages.append({"role": "system", "content": system})
    for message in request.messages:
        if message.role == "user":
            messages.append({"role": "user", "content": message.content})
        else:
            messages.append({"role": "assistant", "content": message.content})
    return messages


def read_completion(
    completion: ChatCompletion,
    request: LlmRequest,
    provider: str,
    requested_model: str,
    started: float,
    prices: dict[str, Price],
) -> LlmResponse:
    latency = elapsed_ms(started)
    if not completion.choices:
        raise LlmBadOutput(f"{provider} returned no choice")
    choice = completion.choices[0]
    if choice.message.refusal:
        raise LlmBadOutput(f"{provider}: the model refused")
    text = choice.message.content or ""
    data = None
    if request.wants_json:
        if choice.finish_reason == "length":
            raise LlmBadOutput(f"{provider}: the JSON was cut at max_tokens")
        data = parse_json_text(text, request, provider)
    usage = (
        Usage(completion.usage.prompt_tokens, completion.usage.completion_tokens)
        if completion.usage is not None
        else None
    )
    # The model that answered (an alias resolves to a dated release).
    model = completion.model or requested_model
    logger.debug("%s call: model=%s latency_ms=%.0f usage=%s", provider, model, latency, usage)
    return LlmResponse(
        text=text,
        provider=provider,
        model=model,
        latency_ms=latency,
        usage=usage,
        cost_usd=cost_of(price_for(prices, model), usage),
        data=data,
    )


def map_openai_error(exc: openai.OpenAIError, provider: str) -> LlmError:
    """The neutral error for an exception of the openai SDK (never its text)."""
    if isinstance(exc, openai.APITimeoutError):
        return LlmTimeout(f"{provider}: the request timed out")
    if isinstance(exc, openai.APIConnectionError):
        return LlmUnavailable(f"{provider}: connection failed")
    if isinstance(exc, openai.APIResponseValidationError):
        return LlmBadOutput(f"{provider}: the response does not have the documented shape")
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        code = exc.code or exc.type or "-"
        described = f"{provider}: HTTP {status} ({code})"
        if status == 429 and code == _QUOTA_EXHAUSTED:
            return LlmRejected(described, status_code=status)
        if status == 429:
            return LlmRateLimited(
                described, retry_after_seconds=retry_after_seconds(exc.response.headers)
            )
        if status in (401, 403):
            return LlmAuthFailed(described)
        if status == 408:
            return LlmTimeout(described)
        if status >= 500:
            return LlmUnavailable(described, status_code=status)
        return LlmRejected(described, status_code=status)
    return LlmUnavailable(f"{provider}: {type(exc).__name__}")
