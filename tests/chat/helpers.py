"""Shared by the chat tests: a recording LLM fake and a small chat client."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import httpx

from smartpay.llm.base import LlmRequest, LlmResponse
from tests.conftest import Api


@dataclass
class RecordingLlm:
    """Answers like a model that keeps the template (so the dialogue's outcome is the
    same with or without it) and records every prompt it was sent."""

    provider: str = "fake"
    model: str = "fake-1"
    prompts: list[str] = field(default_factory=list)

    async def complete(self, request: LlmRequest) -> LlmResponse:
        prompt = "\n".join([request.system or "", *(m.content for m in request.messages)])
        self.prompts.append(prompt)
        if request.json_output:
            text = json.dumps({"intent": "other"})
        else:
            text = request.messages[-1].content.removeprefix("Reply to rewrite: ")
        return LlmResponse(text=text, provider=self.provider, model=self.model, latency_ms=0.1)

    async def close(self) -> None:
        return None


def cvc_pattern(cvc: str) -> re.Pattern[str]:
    """A CVC standing alone: not inside an id, a timestamp or a longer number, nor the
    decimals of a number (a driver's debug log of ``1796175076.7373`` is no CVC, and a
    typed CVC is never stored as the fraction of a number)."""
    return re.compile(rf"(?<![0-9A-Za-z])(?<!\d\.){cvc}(?![0-9A-Za-z])(?!\.\d)")


async def say(
    api: Api, session_id: str | None, message: str, *, key: str | None = None
) -> httpx.Response:
    body: dict[str, Any] = {"message": message}
    if session_id is not None:
        body["sessionId"] = session_id
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return await api.client.post("/chat", json=body, headers=headers)


async def open_session(api: Api, amount: int | None = 2000, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"description": "Order 1001", **extra}
    if amount is not None:
        data.update(amount=amount, currency="usd")
    response = await api.client.post(
        "/v1/chat_sessions", json=data, headers=api.auth(api.keys.secret_key)
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]
