"""OpenAI-compatible local servers (Ollama, llama.cpp's llama-server, vLLM) through the
openai SDK pointed at their ``/v1`` base URL.

JSON: the instruction (with the schema, when there is one) always goes in the system
prompt, because these servers' schema support varies by version. On top of it the
adapter asks for ``response_format`` ``json_object``, which Ollama, llama-server and
vLLM document; a server that refuses the parameter (400/422) is remembered and asked
again with the instruction alone (``json_mode`` "auto"; "json_object" and "instruction"
fix the choice). Either way the answer is parsed and checked here.

No price: a self-hosted model has no per-token list price, so ``cost_usd`` is None.
"""

from __future__ import annotations

import logging
import time
from typing import Literal

import httpx2
import openai
from openai.types.chat import ChatCompletion
from openai.types.chat.completion_create_params import ResponseFormat

from smartpay.llm.base import LlmRejected, LlmRequest, LlmResponse
from smartpay.llm.common import (
    json_instruction,
    quiet_sdk_loggers,
    system_with,
    within_deadline,
)
from smartpay.llm.openai import chat_messages, map_openai_error, read_completion

logger = logging.getLogger(__name__)

# Ollama's OpenAI-compatible endpoint on its default port (https://ollama.com/blog/openai-compatibility).
DEFAULT_BASE_URL = "http://127.0.0.1:11434/v1"
DEFAULT_MODEL = "llama3.2:1b"
# Local servers ignore the key unless started with one (vLLM/llama-server --api-key);
# the SDK refuses to start without any.
NO_API_KEY = "not-needed"

JsonMode = Literal["auto", "json_object", "instruction"]

# The statuses with which a server turns down a parameter it does not implement
# (llama.cpp and vLLM answer 400, FastAPI-based servers 422).
_UNSUPPORTED_PARAMETER = frozenset({400, 422})


class OpenAiCompatibleLlm:
    provider = "local"

    def __init__(
        self,
        *,
        model: str = DEFAULT_MODEL,
        base_url: str = DEFAULT_BASE_URL,
        api_key: str | None = None,
        timeout_seconds: float,
        json_mode: JsonMode = "auto",
        http_client: httpx2.AsyncClient | None = None,
    ) -> None:
        self.model = model
        self.timeout_seconds = timeout_seconds
        self.json_mode = json_mode
        # "auto": None until the server has answered a json_object request.
        self._json_object_supported: bool | None = None
        quiet_sdk_loggers("openai")
        self._client = openai.AsyncOpenAI(
            api_key=api_key or NO_API_KEY,
            base_url=base_url,
            timeout=timeout_seconds,
            # No SDK retries: one call is one request (two at most, once, while finding
            # out whether the server takes json_object); the caller decides on retries.
            max_retries=0,
            http_client=http_client,
        )

    async def complete(self, request: LlmRequest) -> LlmResponse:
        started = time.perf_counter()
        # One deadline for the whole call, the json_object fallback included.
        completion = await within_deadline(
            self.timeout_seconds, self.provider, lambda: self._completion(request)
        )
        return read_completion(completion, request, self.provider, self.model, started, {})

    async def _completion(self, request: LlmRequest) -> ChatCompletion:
        if not request.wants_json:
            return await self._create(request, request.system, json_object=False)
        system = system_with(request, json_instruction(request))
        if self.json_mode == "instruction" or self._json_object_supported is False:
            return await self._create(request, system, json_object=False)
        try:
            completion = await self._create(request, system, json_object=True)
        except LlmRejected as exc:
            probing = self.json_mode == "auto" and self._json_object_supported is None
            if not probing or exc.status_code not in _UNSUPPORTED_PARAMETER:
                raise
            logger.warning(
                "%s server at %s refused response_format json_object (HTTP %s); "
                "asking for JSON by instruction from now on",
                self.provider,
                self._client.base_url,
                exc.status_code,
            )
            self._json_object_supported = False
            return await self._create(request, system, json_object=False)
        self._json_object_supported = True
        return completion

    async def _create(
        self, request: LlmRequest, system: str | None, *, json_object: bool
    ) -> ChatCompletion:
        response_format: ResponseFormat | openai.Omit = (
            {"type": "json_object"} if json_object else openai.omit
        )
        try:
            return await self._client.chat.completions.create(
                model=self.model,
                messages=chat_messages(system, request),
                # max_tokens, not max_completion_tokens: the one every local server knows.
                max_tokens=request.max_tokens,
                temperature=request.temperature,
                response_format=response_format,
            )
        except openai.OpenAIError as exc:
            # `from None`: SDK messages quote response bodies.
            raise map_openai_error(exc, self.provider) from None

    async def close(self) -> None:
        await self._client.close()
