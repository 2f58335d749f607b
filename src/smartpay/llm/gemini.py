"""Google Gemini (Gemini Developer API, ``models/{model}:generateContent``) through
google-genai's async client (``Client(...).aio.models.generate_content``).

JSON: ``response_mime_type`` application/json, and the requested schema as
``response_json_schema``. The SDK's ``response_schema`` takes Gemini's OpenAPI-subset
Schema and converts a JSON Schema into it lossily (the SDK's own documentation points
to ``response_json_schema`` for JSON Schema), and SmartPay's schemas are JSON Schemas.
The answer is parsed and checked against the schema here too.

The adapter gives the SDK its own httpx2 client: the SDK would otherwise pick aiohttp
when it is installed, whose exceptions are another family to map, and it does not wrap
transport errors in its own types.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import httpx2
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

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
    parse_json_text,
    price_for,
    quiet_sdk_loggers,
    retry_after_seconds,
    within_deadline,
)

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "gemini-2.0-flash"

# List prices, USD per million input (text) / output tokens, paid tier, from
# https://ai.google.dev/gemini-api/docs/pricing as of 2025. Versioned ids
# (gemini-2.0-flash-001) cost what their base id costs.
GEMINI_PRICES: dict[str, Price] = {
    "gemini-2.0-flash": Price(0.10, 0.40),
    "gemini-2.0-flash-lite": Price(0.075, 0.30),
    "gemini-2.5-flash": Price(0.30, 2.50),
    "gemini-2.5-flash-lite": Price(0.10, 0.40),
    # Prompts up to 200k tokens; longer ones cost more.
    "gemini-2.5-pro": Price(1.25, 10.00),
}

# google.rpc.RetryInfo, which Gemini puts in a 429's error details
# (https://ai.google.dev/gemini-api/docs/troubleshooting#error-codes).
_RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"
_ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
_DURATION = re.compile(r"(\d+(?:\.\d+)?)s")
# Gemini answers a bad API key with 400 INVALID_ARGUMENT and this ErrorInfo reason.
_BAD_KEY_REASONS = frozenset({"API_KEY_INVALID", "API_KEY_SERVICE_BLOCKED"})
# Finish reasons after which a candidate holds no usable answer.
_BLOCKED = frozenset({"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII"})


class GeminiLlm:
    provider = "gemini"

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
        quiet_sdk_loggers("google_genai")
        self._http = http_client or httpx2.AsyncClient(timeout=timeout_seconds)
        self._client = genai.Client(
            # The Gemini Developer API with a key, whatever GOOGLE_GENAI_USE_VERTEXAI says.
            vertexai=False,
            api_key=api_key,
            http_options=types.HttpOptions(
                base_url=base_url,
                # The SDK wants whole milliseconds.
                timeout=max(1, round(timeout_seconds * 1000)),
                # One attempt (the SDK's default is 5 with backoff): latency stays
                # bounded and the caller decides whether to try again.
                retry_options=types.HttpRetryOptions(attempts=1),
                httpx_async_client=self._http,
            ),
        )

    async def complete(self, request: LlmRequest) -> LlmResponse:
        contents = [
            types.Content(
                role="user" if m.role == "user" else "model", parts=[types.Part(text=m.content)]
            )
            for m in request.messages
        ]
        config = types.GenerateContentConfig(
            system_instruction=request.system or None,
            max_output_tokens=request.max_tokens,
            temperature=request.temperature,
        )
        if request.wants_json:
            config.response_mime_type = "application/json"
            if request.json_schema is not None:
                config.response_json_schema = dict(request.json_schema.schema)
        started = time.perf_counter()
        try:
            response = await within_deadline(
                self.timeout_seconds,
                self.provider,
                lambda: self._client.aio.models.generate_content(
                    model=self.model, contents=contents, config=config
                ),
            )
        except (
            genai_errors.APIError,
            genai_errors.UnknownApiResponseError,
            httpx2.HTTPError,
        ) as exc:
            # `from None`: SDK messages quote response bodies.
            raise map_gemini_error(exc, self.provider) from None
        return self._read(response, request, started)

    def _read(
        self, response: types.GenerateContentResponse, request: LlmRequest, started: float
    ) -> LlmResponse:
        latency = elapsed_ms(started)
        candidates = response.candidates or []
        finish = candidates[0].finish_reason if candidates else None
        if not candidates or (finish is not None and finish.value in _BLOCKED):
            raise LlmBadOutput(f"{self.provider} returned no answer ({finish or 'blocked'})")
        parts = (candidates[0].content.parts if candidates[0].content else None) or []
        text = "".join(part.text for part in parts if part.text and not part.thought)
        data = None
        if request.wants_json:
            if finish is not None and finish.value == "MAX_TOKENS":
                raise LlmBadOutput(f"{self.provider}: the JSON was cut at max_tokens")
            data = parse_json_text(text, request, self.provider)
        meta = response.usage_metadata
        usage = (
            Usage(meta.prompt_token_count or 0, meta.candidates_token_count or 0)
            if meta is not None
            else None
        )
        model = response.model_version or self.model
        logger.debug(
            "%s call: model=%s latency_ms=%.0f usage=%s", self.provider, model, latency, usage
        )
        return LlmResponse(
            text=text,
            provider=self.provider,
            model=model,
            latency_ms=latency,
            usage=usage,
            cost_usd=cost_of(price_for(GEMINI_PRICES, model), usage),
            data=data,
        )

    async def close(self) -> None:
        await self._client.aio.aclose()
        self._client.close()
        # The SDK leaves a client it was given open.
        await self._http.aclose()


def _details(exc: genai_errors.APIError) -> list[dict[str, Any]]:
    body = exc.details
    error = body.get("error") if isinstance(body, dict) else None
    details = error.get("details") if isinstance(error, dict) else None
    return [d for d in details if isinstance(d, dict)] if isinstance(details, list) else []


def _retry_delay(exc: genai_errors.APIError) -> float | None:
    for detail in _details(exc):
        if detail.get("@type") == _RETRY_INFO:
            match = _DURATION.fullmatch(str(detail.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    return retry_after_seconds(headers) if headers is not None else None


def map_gemini_error(exc: Exception, provider: str) -> LlmError:
    """The neutral error for an exception of google-genai or of its httpx2 transport
    (never its text)."""
    if isinstance(exc, httpx2.TimeoutException):
        return LlmTimeout(f"{provider}: the request timed out")
    if isinstance(exc, httpx2.HTTPError):
        return LlmUnavailable(f"{provider}: connection failed")
    if isinstance(exc, genai_errors.UnknownApiResponseError):
        return LlmBadOutput(f"{provider}: the response is not the documented JSON")
    if not isinstance(exc, genai_errors.APIError):
        return LlmUnavailable(f"{provider}: {type(exc).__name__}")
    status = exc.code
    described = f"{provider}: HTTP {status} ({exc.status or '-'})"
    reasons = {str(d.get("reason")) for d in _details(exc) if d.get("@type") == _ERROR_INFO}
    if status == 429:
        return LlmRateLimited(described, retry_after_seconds=_retry_delay(exc))
    if status in (401, 403) or reasons & _BAD_KEY_REASONS:
        return LlmAuthFailed(described)
    if status in (408, 504):
        return LlmTimeout(described)
    if status >= 500:
        return LlmUnavailable(described, status_code=status)
    return LlmRejected(described, status_code=status)
