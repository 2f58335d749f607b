"""Request bodies of the chat API."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from smartpay.kit.params import StripeParams


class ChatMessage(BaseModel):
    """``POST /chat``: the contract of the Payment Smart Bot (camelCase, JSON)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    session_id: str | None = Field(default=None, alias="sessionId", max_length=64)
    message: str = Field(max_length=2000)


class ChatSessionCreate(StripeParams):
    """``POST /v1/chat_sessions``: a session bound to what the customer pays for.
    Without ``amount`` the bot saves the card as a PaymentMethod instead."""

    amount: int | None = None
    currency: str | None = Field(default=None, max_length=8)
    description: str | None = Field(default=None, max_length=500)
