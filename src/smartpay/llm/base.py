"""The provider-neutral LLM interface: a Protocol and the dataclasses it speaks.

Adapters turn every provider failure into one of the ``LlmError`` subclasses below, so
callers need no provider knowledge and no SDK exception ever reaches them:

- ``LlmRateLimited`` (429; ``retry_after_seconds`` when the provider said how long),
- ``LlmUnavailable`` (5xx, overloaded, connection failure),
- ``LlmTimeout`` (the adapter's deadline or the SDK's),
- ``LlmBadOutput`` (JSON asked for and not returned, or not matching the schema),
- ``LlmAuthFailed`` (missing, invalid or insufficient credentials),
- ``LlmRejected`` (any other refusal of the request: bad parameters, unknown model,
  exhausted quota).

Adapters never retry (their SDKs' own retries are switched off): ``retryable`` tells the
caller which failures another attempt (or another model) may cure.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Protocol


class Role(StrEnum):
    USER = "user"
    ASSISTANT = "assistant"


@dataclass(frozen=True, slots=True)
class LlmMessage:
    role: Role
    content: str


# OpenAI's limit on a response-format name (and Anthropic's on a tool name): letters,
# digits, '_' and '-', at most 64 characters.
_SCHEMA_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True, slots=True)
class JsonSchema:
    """Structured output: the reply must be one JSON object valid against ``schema``.

    ``schema`` is a JSON Schema whose root is an object: that is what every provider's
    schema mode accepts (OpenAI strict mode, Anthropic tool input, Gemini). Keep to the
    subset those modes support (type, properties, required, enum, items, anyOf,
    additionalProperties, description); adapters validate the answer against the full
    schema either way, so a model that ignores it yields ``LlmBadOutput``, never
    unchecked data.
    """

    name: str
    schema: Mapping[str, Any]
    description: str | None = None
    # OpenAI strict mode: the model is constrained to the schema (which must then list
    # every property in `required` and set additionalProperties false).
    strict: bool = True

    def __post_init__(self) -> None:
        if not _SCHEMA_NAME.fullmatch(self.name):
            raise ValueError("JsonSchema.name: 1-64 of A-Z, a-z, 0-9, '_' or '-'")
        if self.schema.get("type") != "object":
            raise ValueError("JsonSchema.schema: the root must be {'type': 'object', ...}")


@dataclass(frozen=True, slots=True)
class LlmRequest:
    messages: tuple[LlmMessage, ...]
    system: str | None = None
    max_tokens: int = 256
    temperature: float = 0.2
    # Ask for a JSON object (adapters use the provider's JSON mode where it has one).
    json_output: bool = False
    # Ask for a JSON object valid against this schema (implies json_output). The
    # response's ``data`` then holds the validated object.
    json_schema: JsonSchema | None = None

    @property
    def wants_json(self) -> bool:
        return self.json_output or self.json_schema is not None


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True, slots=True)
class LlmResponse:
    text: str
    provider: str
    model: str
    latency_ms: float
    # None when the provider reported no token counts (some local servers).
    usage: Usage | None = field(default_factory=Usage)
    # USD, when the adapter knows the model's price and the usage; None otherwise.
    cost_usd: float | None = None
    # The parsed (and, with a schema, validated) JSON when JSON was asked for.
    data: Any = None

    def json(self) -> Any:
        """The JSON answer: ``data`` when the adapter parsed it, else the text parsed
        (models sometimes wrap it in a ``` fence); ``LlmBadOutput`` if it is not JSON."""
        if self.data is not None:
            return self.data
        text = self.text.strip()
        if text.startswith("```"):
            text = text.strip("`").removeprefix("json").strip()
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise LlmBadOutput(f"{self.provider} returned text that is not JSON") from exc


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens."""

    input_per_million: float
    output_per_million: float

    def cost(self, usage: Usage) -> float:
        return (
            usage.input_tokens * self.input_per_million
            + usage.output_tokens * self.output_per_million
        ) / 1_000_000


class LlmError(Exception):
    """A model call that produced nothing usable. Messages never carry prompt or
    response text (they may hold customer words): only statuses and error codes."""

    # Whether another attempt (later, or on another model) may succeed.
    retryable: ClassVar[bool] = False


class LlmRateLimited(LlmError):
    retryable = True

    def __init__(self, message: str, *, retry_after_seconds: float | None = None) -> None:
        super().__init__(message)
        # How long the provider asked us to wait, when it said so.
        self.retry_after_seconds = retry_after_seconds


class LlmUnavailable(LlmError):
    """5xx, overloaded, or the provider could not be reached."""

    retryable = True

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class LlmTimeout(LlmError):
    retryable = True


class LlmBadOutput(LlmError):
    """JSON was asked for and the model did not return it (or not matching the schema,
    or it refused). Models are not deterministic: another attempt may do better."""

    retryable = True


class LlmAuthFailed(LlmError):
    """Missing, invalid or insufficient credentials: a configuration problem."""


class LlmRejected(LlmError):
    """The provider refused the request itself (bad parameter, unknown model, exhausted
    quota): the same request will fail again."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class LlmClient(Protocol):
    provider: str
    model: str

    async def complete(self, request: LlmRequest) -> LlmResponse: ...

    async def close(self) -> None: ...
