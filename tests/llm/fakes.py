"""The one place the LLM adapter tests build their fakes.

- ``FakeApi``: a provider's HTTP API faked at the transport (httpx2 MockTransport, the
  client the openai, anthropic and google-genai SDKs are built on): it records every
  request the SDK sent and answers the queued responses in order.
- ``HttpProvider``: how one httpx-based adapter is built on a ``FakeApi`` and what a
  successful text answer looks like in its provider's shape; ``test_http_adapters.py``
  runs the contract every adapter shares (deadline, timeouts, closing, logging) on each.
- ``bedrock_client`` / ``bedrock_sending``: a real boto3 ``bedrock-runtime`` client whose
  ``before-send`` hook stands in for the network.
- ``VOTE`` and ``GREETING``: requests every adapter is asked.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.awsrequest
import httpx2

from smartpay.llm.base import JsonSchema, LlmClient, LlmMessage, LlmRequest, Role
from smartpay.llm.bedrock import BedrockLlm, make_bedrock_client

Answer = httpx2.Response | Callable[[httpx2.Request], httpx2.Response]

# What the risk voters will ask for: a decision and a reason, nothing else.
VOTE_SCHEMA = JsonSchema(
    name="risk_vote",
    description="A vote on a risky payment.",
    schema={
        "type": "object",
        "properties": {
            "decision": {"type": "string", "enum": ["approve", "decline", "review"]},
            "reason": {"type": "string"},
        },
        "required": ["decision", "reason"],
        "additionalProperties": False,
    },
)
VOTE = LlmRequest(
    messages=(LlmMessage(Role.USER, "Payment of 900.00 USD from a new device"),),
    json_schema=VOTE_SCHEMA,
)
# A plain conversation any provider accepts (it starts and ends with the user); the
# contract tests look for its texts in the logs.
GREETING = LlmRequest(
    system="You are terse.",
    messages=(
        LlmMessage(Role.USER, "Hi"),
        LlmMessage(Role.ASSISTANT, "Hello."),
        LlmMessage(Role.USER, "Say hello again"),
    ),
    max_tokens=50,
)


@dataclass
class FakeApi:
    answers: list[Answer] = field(default_factory=list)
    requests: list[httpx2.Request] = field(default_factory=list)
    # Seconds to wait before answering (a slow provider).
    delay: float = 0.0
    # Every http client handed to an adapter (to check the adapter closes it).
    clients: list[httpx2.AsyncClient] = field(default_factory=list)

    def answer(self, *answers: Answer) -> FakeApi:
        self.answers.extend(answers)
        return self

    async def _handle(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        if self.delay:
            await asyncio.sleep(self.delay)
        if not self.answers:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        answer = self.answers.pop(0)
        return answer(request) if callable(answer) else answer

    def client(self) -> httpx2.AsyncClient:
        client = httpx2.AsyncClient(transport=httpx2.MockTransport(self._handle))
        self.clients.append(client)
        return client

    def body(self, index: int = -1) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.requests[index].content)
        return loaded


def timeout(request: httpx2.Request) -> httpx2.Response:
    """The transport giving up (the SDK's own timeout firing)."""
    raise httpx2.ReadTimeout("read timed out", request=request)


def refused(request: httpx2.Request) -> httpx2.Response:
    raise httpx2.ConnectError("connection refused", request=request)


@dataclass(frozen=True)
class HttpProvider:
    """One httpx-based adapter, as the shared contract tests need it."""

    name: str
    # The adapter talking to ``FakeApi`` through its own http client, with this deadline.
    adapter: Callable[[FakeApi, float], LlmClient]
    # A successful answer carrying this text, in the provider's documented shape.
    text: Callable[[str], httpx2.Response]


# ---------------------------------------------------------------- Bedrock (boto3)

BEDROCK_CONVERSE_HOOK = "before-send.bedrock-runtime.Converse"


def bedrock_session() -> boto3.Session:
    # Fake static credentials: requests are signed but never leave the process (and no
    # credential lookup reaches the instance metadata endpoint).
    return boto3.Session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret")


def bedrock_client(*, region: str = "us-east-1", timeout_seconds: float = 5) -> Any:
    return make_bedrock_client(
        region=region, timeout_seconds=timeout_seconds, session=bedrock_session()
    )


def bedrock_sending(send: Callable[..., Any], *, timeout_seconds: float = 5) -> BedrockLlm:
    """The adapter on a real client whose network is ``send(request, **kwargs)``: it
    returns an ``aws_response`` or raises what botocore's transport would."""
    client = bedrock_client()
    client.meta.events.register(BEDROCK_CONVERSE_HOOK, send)
    return BedrockLlm(timeout_seconds=timeout_seconds, client=client)


class _RawBody:
    """The raw body botocore's AWSResponse reads."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


def aws_response(
    request: Any, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Any:
    """What botocore's transport returns for ``request``: a status, headers, JSON body."""
    raw = _RawBody(json.dumps(body).encode())
    return botocore.awsrequest.AWSResponse(request.url, status, headers or {}, raw)
