"""The id of the request being served, so every log line and event it causes can be
traced back to it (Stripe answers each request with a ``Request-Id`` header and puts the
id in the events the request raised)."""

from __future__ import annotations

from contextvars import ContextVar

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from smartpay.kit.ids import new_id

REQUEST_ID_HEADER = "Request-Id"

current_request_id: ContextVar[str | None] = ContextVar("smartpay_request_id", default=None)


class RequestIdMiddleware:
    """Gives each HTTP request and WebSocket an id (``req_…``), visible to everything it
    runs through ``current_request_id`` and returned in the ``Request-Id`` header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = new_id("req")
        token = current_request_id.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append(REQUEST_ID_HEADER, request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            current_request_id.reset(token)
