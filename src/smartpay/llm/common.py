"""What every adapter needs: JSON extraction and schema validation, the JSON instruction
for models without a schema mode, Retry-After parsing, prices, the deadline, and
keeping SDK loggers from writing request bodies.

Imported by the adapters only (it needs the ``llm`` extra's jsonschema-rs), never by
``base``, so the chat runs with ``SMARTPAY_LLM_PROVIDER=none`` without the extra.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Protocol, TypeVar

import jsonschema_rs
from opentelemetry import trace

from smartpay.llm.base import (
    JsonSchema,
    LlmBadOutput,
    LlmMessage,
    LlmRejected,
    LlmRequest,
    LlmTimeout,
    Price,
    Usage,
)
from smartpay.ops.metrics import LLM_CALL_SECONDS

T = TypeVar("T")

# A model id with a release date or version appended (gpt-4o-mini-2024-07-18,
# claude-3-5-haiku-20241022, gemini-2.0-flash-001) or the "-latest" alias costs what
# the base id costs.
_DATED_SUFFIX = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{8}|\d{3}|latest)$")
_FENCE = re.compile(r"^```[A-Za-z]*\s*|\s*```$")

# No-op until tracing is configured (ops/tracing.py installs the provider); the span
# carries the provider's name only, never the prompt.
_tracer = trace.get_tracer("smartpay.llm")


class HeaderLookup(Protocol):
    def get(self, key: str, /) -> str | None: ...


def elapsed_ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def price_for(prices: Mapping[str, Price], model: str) -> Price | None:
    """The price of ``model``, or of the model it is a dated release of; None if unknown."""
    return prices.get(model) or prices.get(_DATED_SUFFIX.sub("", model))


def cost_of(price: Price | None, usage: Usage | None) -> float | None:
    if price is None or usage is None:
        return None
    return price.cost(usage)


async def within_deadline(seconds: float, provider: str, call: Callable[[], Awaitable[T]]) -> T:
    """Awaits ``call()`` for at most ``seconds`` (the whole call, whatever the SDK's own
    per-phase timeouts do); ``LlmTimeout`` after that."""
    started = time.perf_counter()
    outcome = "error"
    try:
        with _tracer.start_as_current_span(f"llm.call {provider}") as span:
            span.set_attribute("smartpay.llm.provider", provider)
            async with asyncio.timeout(seconds):
                answer = await call()
        outcome = "ok"
        return answer
    except TimeoutError:
        outcome = "timeout"
        raise LlmTimeout(f"{provider}: no answer within {seconds:g} s") from None
    finally:
        LLM_CALL_SECONDS.labels(provider, outcome).observe(time.perf_counter() - started)


def json_instruction(request: LlmRequest) -> str:
    """What to tell a model that has no (usable) schema mode, appended to the system."""
    instruction = "Answer with one JSON object and nothing else: no prose, no code fence."
    if request.json_schema is not None:
        schema = json.dumps(request.json_schema.schema, separators=(",", ":"))
        instruction += f" The object must be valid against this JSON Schema: {schema}"
    return instruction


def system_with(request: LlmRequest, extra: str | None) -> str | None:
    if extra is None:
        return request.system
    return f"{request.system}\n\n{extra}" if request.system else extra


def extract_json_object(text: str, provider: str) -> dict[str, Any]:
    """The JSON object in a model's text: the whole text, the inside of a ``` fence, or
    the first object in prose around it. ``LlmBadOutput`` if there is none."""
    stripped = _FENCE.sub("", text.strip())
    try:
        value = json.loads(stripped)
    except json.JSONDecodeError:
        value = None
        start = stripped.find("{")
        if start >= 0:
            try:
                value, _ = json.JSONDecoder().raw_decode(stripped, start)
            except json.JSONDecodeError:
                value = None
    if not isinstance(value, dict):
        # No excerpt of the text: it may hold customer words.
        raise LlmBadOutput(f"{provider} did not return a JSON object")
    return value


@lru_cache(maxsize=64)
def _validator(schema_json: str) -> jsonschema_rs.Validator:
    return jsonschema_rs.validator_for(json.loads(schema_json))


def check_schema(data: T, schema: JsonSchema | None, provider: str) -> T:
    """``data`` if it is valid against ``schema``; ``LlmBadOutput`` naming the first
    failing location and keyword (never the value) if not."""
    if schema is None:
        return data
    try:
        validator = _validator(json.dumps(schema.schema, sort_keys=True))
    except ValueError:
        raise LlmRejected(f"JSON schema {schema.name!r} is not a valid JSON Schema") from None
    try:
        validator.validate(data)
    except jsonschema_rs.ValidationError as exc:
        where = "/" + "/".join(str(part) for part in exc.instance_path)
        keyword = exc.schema_path[-1] if exc.schema_path else "schema"
        raise LlmBadOutput(
            f"{provider} output does not match schema {schema.name!r} at {where} ({keyword})"
        ) from None
    return data


def parse_json_text(text: str, request: LlmRequest, provider: str) -> dict[str, Any]:
    return check_schema(extract_json_object(text, provider), request.json_schema, provider)


def retry_after_seconds(headers: HeaderLookup | None) -> float | None:
    """How long a 429 asked us to wait: ``retry-after-ms`` (OpenAI's and Anthropic's
    finer header), else ``Retry-After`` in seconds or as an HTTP date (RFC 9110 10.2.3)."""
    if headers is None:
        return None
    milliseconds = headers.get("retry-after-ms")
    if milliseconds:
        try:
            return max(0.0, float(milliseconds) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def alternating(messages: Sequence[LlmMessage]) -> list[LlmMessage]:
    """The conversation as the strict providers (Bedrock Converse, Anthropic) want it:
    starting with the user and alternating roles. Consecutive messages of one role are
    joined; assistant messages before the first user message are dropped."""
    merged: list[LlmMessage] = []
    for message in messages:
        if not merged and message.role != "user":
            continue
        if merged and merged[-1].role == message.role:
            merged[-1] = LlmMessage(message.role, f"{merged[-1].content}\n\n{message.content}")
        else:
            merged.append(message)
    if not merged:
        raise LlmRejected("the request has no user message")
    return merged


def quiet_sdk_loggers(*names: str) -> None:
    """Caps SDK loggers at INFO. At DEBUG the anthropic SDK logs its request options and
    botocore whole requests (openai 3.x no longer does; capped anyway): prompts that may
    hold customer text must not reach a log even when the service runs with DEBUG."""
    for name in names:
        sdk_logger = logging.getLogger(name)
        if sdk_logger.getEffectiveLevel() < logging.INFO:
            sdk_logger.setLevel(logging.INFO)
