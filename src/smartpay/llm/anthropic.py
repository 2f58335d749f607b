"""Anthropic Messages API (``POST /v1/messages``) through the official SDK.

JSON comes through a single tool the model is forced to call (``tool_choice`` of type
``tool``): the tool's ``input_schema`` is the requested schema (any object without
one), and the tool call's ``input`` is the answer, checked against the schema here
(https://docs.anthropic.com/en/docs/build-with-claude/tool-use#json-mode).
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import anthropic
import httpx2
from anthropic.types import Message, MessageParam, ToolChoiceToolParam, ToolParam

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
    alternating,
    check_schema,
    cost_of,
    elapsed_ms,
    price_for,
    quiet_sdk_loggers,
    retry_after_seconds,
    within_deadline,
)

logger = logging.getLogger(__name__)

# The smallest current model the installed SDK lists (claude-3-5-haiku is no longer
# among its known models).
DEFAULT_MODEL = "claude-haiku-4-5"

# List prices, USD per million input / output tokens, from
# https://www.anthropic.com/pricing (API) as of 2025. Dated releases
# (claude-3-5-haiku-20241022) and "-latest" aliases cost what their base id costs.
ANTHROPIC_PRICES: dict[str, Price] = {
    "claude-3-5-haiku": Price(0.80, 4.00),
    "claude-3-haiku": Price(0.25, 1.25),
    "claude-haiku-4-5": Price(1.00, 5.00),
    "claude-3-5-sonnet": Price(3.00, 15.00),
    "claude-3-7-sonnet": Price(3.00, 15.00),
    "claude-sonnet-4": Price(3.00, 15.00),
    "claude-sonnet-4-5": Price(3.00, 15.00),
    "claude-opus-4": Price(15.00, 75.00),
}

# The tool that carries a JSON answer when no schema (hence no schema name) was given.
ANY_JSON_TOOL = "json_answer"
ANY_OBJECT_SCHEMA: dict[str, Any] = {"type": "object"}


class AnthropicLlm:
    provider = "anthropic"

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
        quiet_sdk_loggers("anthropic")
        self._client = anthropic.AsyncAnthropic(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout_seconds,
            # No SDK retries (its default is 2 with backoff): one call is one request,
            # so latency is bounded and the caller decides whether to try again.
            max_retries=0,
            http_client=http_client,
        )

    async def complete(self, request: LlmRequest) -> LlmResponse:
        messages: list[MessageParam] = []
        for m in alternating(request.messages):
            if m.role == "user":
                messages.append({"role": "user", "content": m.content})
            else:
                messages.append({"role": "assistant", "content": m.content})
        tool_name = request.json_schema.name if request.json_schema else ANY_JSON_TOOL
        tools: list[ToolParam] | anthropic.Omit = anthropic.omit
        tool_choice: ToolChoiceToolParam | anthropic.Omit = anthropic.omit
        if request.wants_json:
            tool: ToolParam = {
                "name": tool_name,
                "description": (
                    request.json_schema.description
                    if request.json_schema and request.json_schema.description
                    else "Give the answer as this tool's input."
                ),
                "input_schema": dict(request.json_schema.schema)
                if request.json_schema
                else ANY_OBJECT_SCHEMA,
            }
            tools = [tool]
            tool_choice = {"type": "tool", "name": tool_name}
        started = time.perf_counter()
        try:
            message = await within_deadline(
                self.timeout_seconds,
                self.provider,
                lambda: self._client.messages.create(
                    model=self.model,
                    max_tokens=request.max_tokens,
                    messages=messages,
                    system=request.system if request.system else anthropic.omit,
                    # No temperature: the Messages API of SDK 2.x has no such parameter
                    # (the model's default sampling applies).
                    tools=tools,
                    tool_choice=tool_choice,
                ),
            )
        except anthropic.AnthropicError as exc:
            # `from None`: SDK messages quote response bodies.
            raise map_anthropic_error(exc, self.provider) from None
        return self._read(message, request, tool_name, started)

    def _read(
        self, message: Message, request: LlmRequest, tool_name: str, started: float
    ) -> LlmResponse:
        latency = elapsed_ms(started)
        text = "".join(block.text for block in message.content if block.type == "text")
        data = None
        if request.wants_json:
            if message.stop_reason == "max_tokens":
                raise LlmBadOutput(f"{self.provider}: the JSON was cut at max_tokens")
            if message.stop_reason == "refusal":
                raise LlmBadOutput(f"{self.provider}: the model refused")
            calls = [
                block
                for block in message.content
                if block.type == "tool_use" and block.name == tool_name
            ]
            if not calls:
                raise LlmBadOutput(f"{self.provider} did not call the JSON tool")
            data = check_schema(dict(calls[0].input), request.json_schema, self.provider)
            text = json.dumps(data)
        usage = Usage(message.usage.input_tokens, message.usage.output_tokens)
        model = str(message.model) or self.model
        logger.debug(
            "%s call: model=%s latency_ms=%.0f usage=%s", self.provider, model, latency, usage
        )
        return LlmResponse(
            text=text,
            provider=self.provider,
            model=model,
            latency_ms=latency,
            usage=usage,
            cost_usd=cost_of(price_for(ANTHROPIC_PRICES, model), usage),
            data=data,
        )

    async def close(self) -> None:
        await self._client.close()


def _error_type(exc: anthropic.APIStatusError) -> str:
    """The documented ``error.type`` of the body (rate_limit_error, overloaded_error...)."""
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("type"), str):
            return str(error["type"])
    return "-"


def map_anthropic_error(exc: anthropic.AnthropicError, provider: str) -> LlmError:
    """The neutral error for an exception of the anthropic SDK (never its text);
    statuses from https://docs.anthropic.com/en/api/errors."""
    if isinstance(exc, anthropic.APITimeoutError):
        return LlmTimeout(f"{provider}: the request timed out")
    if isinstance(exc, anthropic.APIConnectionError):
        return LlmUnavailable(f"{provider}: connection failed")
    if isinstance(exc, anthropic.APIResponseValidationError):
        return LlmBadOutput(f"{provider}: the response does not have the documented shape")
    if isinstance(exc, anthropic.APIStatusError):
        status = exc.status_code
        described = f"{provider}: HTTP {status} ({_error_type(exc)})"
        if status == 429:
            return LlmRateLimited(
                described, retry_after_seconds=retry_after_seconds(exc.response.headers)
            )
        if status in (401, 403):
            return LlmAuthFailed(described)
        if status == 408:
            return LlmTimeout(described)
        # 529 overloaded_error is a 5xx too.
        if status >= 500:
            return LlmUnavailable(described, status_code=status)
        return LlmRejected(described, status_code=status)
    return LlmUnavailable(f"{provider}: {type(exc).__name__}")
