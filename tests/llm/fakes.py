"""A provider's HTTP API faked at the transport (httpx2 MockTransport, the client the
openai, anthropic and google-genai SDKs are built on): it records every request the SDK
sent and answers the queued responses in order."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx2

from smartpay.llm.base import JsonSchema

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


@dataclass
class FakeApi:
    answers: list[Answer] = field(default_factory=list)
    requests: list[httpx2.Request] = field(default_factory=list)
    # Seconds to wait before answering (a slow provider).
    delay: float = 0.0

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
        return httpx2.AsyncClient(transport=httpx2.MockTransport(self._handle))

    def body(self, index: int = -1) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.requests[index].content)
        return loaded


def timeout(request: httpx2.Request) -> httpx2.Response:
    """The transport giving up (the SDK's own timeout firing)."""
    raise httpx2.ReadTimeout("read timed out", request=request)


def refused(request: httpx2.Request) -> httpx2.Response:
    raise httpx2.ConnectError("connection refused", request=request)
