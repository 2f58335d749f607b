"""Amazon Bedrock Runtime Converse (``POST /model/{modelId}/converse``) through boto3.

boto3 is synchronous: each call runs in a worker thread (``asyncio.to_thread``) under
the adapter's deadline. Credentials come from the standard AWS chain (environment,
profile, instance or task role); SmartPay holds no AWS key of its own.

JSON: Llama on Bedrock has no schema mode, so the instruction (with the schema, when
there is one) goes in the system prompt and the answer is parsed and checked here.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import boto3
import botocore.config
import botocore.exceptions

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

# Llama 3.2 1B through the US cross-region inference profile: the cheapest Bedrock text
# model, enough to rephrase a template or classify a short message.
DEFAULT_MODEL = "us.meta.llama3-2-1b-instruct-v1:0"

# On-demand list prices, USD per million input / output tokens, us-east-1, from
# https://aws.amazon.com/bedrock/pricing/ (Meta) as of 2025. A "us." cross-region
# inference profile costs what the model costs in the source region.
BEDROCK_PRICES: dict[str, Price] = {
    "us.meta.llama3-2-1b-instruct-v1:0": Price(0.10, 0.10),
    "us.meta.llama3-2-3b-instruct-v1:0": Price(0.15, 0.15),
    "us.meta.llama3-1-8b-instruct-v1:0": Price(0.22, 0.22),
    "meta.llama3-1-8b-instruct-v1:0": Price(0.22, 0.22),
}

# Converse error codes (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html#API_runtime_Converse_Errors)
# and the AWS-wide authentication ones.
_THROTTLED = frozenset({"ThrottlingException", "TooManyRequestsException"})
_UNAVAILABLE = frozenset(
    {
        "InternalServerException",
        "ServiceUnavailableException",
        "ModelNotReadyException",
        # 424: the model itself failed while answering.
        "ModelErrorException",
    }
)
_AUTH = frozenset(
    {
        "AccessDeniedException",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "ExpiredTokenException",
        "IncompleteSignature",
        "MissingAuthenticationToken",
    }
)
_TIMED_OUT = frozenset({"ModelTimeoutException"})


def make_bedrock_client(
    *,
    region: str,
    timeout_seconds: float,
    endpoint_url: str | None = None,
    session: boto3.Session | None = None,
) -> Any:
    """A ``bedrock-runtime`` client with the adapter's timeouts and no retries, from
    ``session`` (default: the standard credential chain)."""
    config = botocore.config.Config(
        connect_timeout=timeout_seconds,
        read_timeout=timeout_seconds,
        # One attempt (botocore's default is 3 in "legacy"/"standard" mode): latency
        # stays bounded and the caller decides whether to try again.
        retries={"total_max_attempts": 1, "mode": "standard"},
    )
    return (session or boto3.Session()).client(
        "bedrock-runtime", region_name=region, endpoint_url=endpoint_url, config=config
    )


class BedrockLlm:
    provider = "bedrock"

    def __init__(
        self,
        *,
        model: str = DEFAULT_MODEL,
        timeout_seconds: float,
        client: Any,
    ) -> None:
        """``client``: a boto3 ``bedrock-runtime`` client, from ``make_bedrock_client``."""
        self.model = model
        self.timeout_seconds = timeout_seconds
        # botocore logs whole request bodies at DEBUG.
        quiet_sdk_loggers("botocore", "boto3")
        self._client = client

    async def complete(self, request: LlmRequest) -> LlmResponse:
        system = (
            system_with(request, json_instruction(request))
            if request.wants_json
            else request.system
        )
        params: dict[str, Any] = {
            "modelId": self.model,
            "messages": [
                {"role": m.role.value, "content": [{"text": m.content}]}
                for m in alternating(request.messages)
            ],
            "inferenceConfig": {
                "maxTokens": request.max_tokens,
                "temperature": request.temperature,
            },
        }
        if system:
            params["system"] = [{"text": system}]
        started = time.perf_counter()
        try:
            # On the deadline the thread is abandoned, not stopped; botocore's own read
            # timeout (the same number) ends it soon after.
            answer: dict[str, Any] = await within_deadline(
                self.timeout_seconds,
                self.provider,
                lambda: asyncio.to_thread(self._client.converse, **params),
            )
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            # `from None`: botocore messages may quote the service's error text.
            raise map_bedrock_error(exc, self.provider) from None
        return self._read(answer, request, started)

    def _read(self, answer: dict[str, Any], request: LlmRequest, started: float) -> LlmResponse:
        latency = elapsed_ms(started)
        try:
            blocks = answer["output"]["message"]["content"]
            text = "".join(block["text"] for block in blocks if "text" in block)
        except (KeyError, TypeError):
            raise LlmBadOutput(f"{self.provider}: the response has no output message") from None
        data = None
        if request.wants_json:
            if answer.get("stopReason") == "max_tokens":
                raise LlmBadOutput(f"{self.provider}: the JSON was cut at max_tokens")
            data = parse_json_text(text, request, self.provider)
        counts = answer.get("usage")
        usage = (
            Usage(int(counts.get("inputTokens", 0)), int(counts.get("outputTokens", 0)))
            if isinstance(counts, dict)
            else None
        )
        logger.debug(
            "%s call: model=%s latency_ms=%.0f usage=%s", self.provider, self.model, latency, usage
        )
        return LlmResponse(
            text=text,
            provider=self.provider,
            model=self.model,
            latency_ms=latency,
            usage=usage,
            cost_usd=cost_of(price_for(BEDROCK_PRICES, self.model), usage),
            data=data,
        )

    async def close(self) -> None:
        self._client.close()


def _retry_after(meta: dict[str, Any]) -> float | None:
    return retry_after_seconds(meta.get("HTTPHeaders") or {})


def map_bedrock_error(exc: Exception, provider: str) -> LlmError:
    """The neutral error for a botocore exception (never its text)."""
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        meta = exc.response.get("ResponseMetadata", {})
        code = str(error.get("Code", "-"))
        status = int(meta.get("HTTPStatusCode", 0))
        described = f"{provider}: HTTP {status} ({code})"
        # The documented code first (ModelNotReadyException comes with a 429 but is
        # a model warming up), then the status for codes not listed.
        if code in _THROTTLED:
            return LlmRateLimited(described, retry_after_seconds=_retry_after(meta))
        if code in _AUTH:
            return LlmAuthFailed(described)
        if code in _TIMED_OUT:
            return LlmTimeout(described)
        if code in _UNAVAILABLE:
            return LlmUnavailable(described, status_code=status)
        if status == 429:
            return LlmRateLimited(described, retry_after_seconds=_retry_after(meta))
        if status in (401, 403):
            return LlmAuthFailed(described)
        if status == 408:
            return LlmTimeout(described)
        if status >= 500:
            return LlmUnavailable(described, status_code=status)
        return LlmRejected(described, status_code=status)
    if isinstance(
        exc, botocore.exceptions.ReadTimeoutError | botocore.exceptions.ConnectTimeoutError
    ):
        return LlmTimeout(f"{provider}: the request timed out")
    if isinstance(
        exc, botocore.exceptions.NoCredentialsError | botocore.exceptions.PartialCredentialsError
    ):
        return LlmAuthFailed(f"{provider}: no AWS credentials found")
    return LlmUnavailable(f"{provider}: {type(exc).__name__}")
