"""The payment chat's routes: ``POST /chat``, ``GET``/``DELETE /session/{id}`` (the
customer's side: publishable key or the session id) and ``POST /v1/chat_sessions``
(the merchant's server: secret key).

Errors carry the CORS headers too (``ChatRoute``): a chat widget on a merchant's site
must be able to read "this session expired" or "too many messages", not just see a
blocked response."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute

from smartpay.chat.cors import ChatCors
from smartpay.chat.ratelimit import RateLimiter
from smartpay.chat.schemas import ChatMessage, ChatSessionCreate
from smartpay.chat.service import ChatService
from smartpay.dependencies import SecretAuth
from smartpay.errors import RateLimited, SmartPayError
from smartpay.kit.api import StripeJSONResponse, body_doc, body_of, error_response
from smartpay.merchants.auth import chat_auth
from smartpay.merchants.service import MerchantContext


class ChatRoute(APIRoute):
    """Renders the chat's errors itself, with the CORS headers of the request's origin.
    The merchant is not known yet when an error is raised (an unknown or expired
    session, a bad key), so any origin some merchant allows may read it: an error body
    holds no session data."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except SmartPayError as error:
                response = error_response(error)
                response.headers.update(_cors_headers(request, None))
                return response

        return handle


router = APIRouter(tags=["chat"], route_class=ChatRoute)
BODY_MODELS = [ChatMessage, ChatSessionCreate]

ChatAuth = Annotated[MerchantContext | None, Depends(chat_auth)]


def get_chat(request: Request) -> ChatService:
    chat: ChatService = request.app.state.chat
    return chat


Chat = Annotated[ChatService, Depends(get_chat)]


def _cors_headers(request: Request, merchant_id: str | None) -> dict[str, str]:
    cors: ChatCors = request.app.state.chat_cors
    headers = cors.headers(merchant_id, request.headers.get("origin"))
    # What a customer typed (or that a session exists) must not sit in a shared cache.
    headers["Cache-Control"] = "no-store"
    return headers


def _limited(request: Request, session_id: str | None) -> Response | None:
    """429 with Retry-After when the client's IP or the session is over its rate."""
    limiter: RateLimiter = request.app.state.chat_limiter
    keys = [f"ip:{request.client.host if request.client else 'unknown'}"]
    if session_id:
        keys.append(f"session:{session_id}")
    waits = [w for w in (limiter.retry_after(k) for k in keys) if w is not None]
    if not waits:
        return None
    response = error_response(
        RateLimited("Too many chat messages at once: wait a moment and send it again.")
    )
    response.headers.update(_cors_headers(request, None))
    response.headers["Retry-After"] = str(max(waits))
    return response


def _answer(
    request: Request, merchant_id: str | None, body: dict[str, Any], status: int = 200
) -> Response:
    headers = _cors_headers(request, merchant_id)
    return StripeJSONResponse(body, status_code=status, headers=headers)


@router.post("/chat", openapi_extra=body_doc(ChatMessage))
async def chat_message(
    request: Request,
    merchant: ChatAuth,
    params: Annotated[ChatMessage, Depends(body_of(ChatMessage))],
    chat: Chat,
) -> Response:
    limited = _limited(request, params.session_id)
    if limited is not None:
        return limited
    reply = await chat.message(merchant, params.session_id, params.message)
    return _answer(request, reply.record.merchant_id, reply.body())


@router.get("/session/{session_id}")
async def get_session(
    request: Request, session_id: str, merchant: ChatAuth, chat: Chat
) -> Response:
    limited = _limited(request, session_id)
    if limited is not None:
        return limited
    record = await chat.load(session_id, merchant)
    body = chat.describe(record)
    body["payment_status"] = await chat.payment_status(record)
    return _answer(request, record.merchant_id, body)


@router.delete("/session/{session_id}")
async def delete_session(
    request: Request, session_id: str, merchant: ChatAuth, chat: Chat
) -> Response:
    limited = _limited(request, session_id)
    if limited is not None:
        return limited
    record = await chat.cancel(await chat.load(session_id, merchant))
    return _answer(request, record.merchant_id, {**chat.describe(record), "deleted": True})


@router.options("/chat", include_in_schema=False)
@router.options("/session/{session_id}", include_in_schema=False)
async def chat_preflight(request: Request) -> Response:
    cors: ChatCors = request.app.state.chat_cors
    return Response(status_code=204, headers=cors.preflight_headers(request.headers.get("origin")))


@router.post("/v1/chat_sessions", openapi_extra=body_doc(ChatSessionCreate))
async def create_chat_session(
    request: Request,
    merchant: SecretAuth,
    params: Annotated[ChatSessionCreate, Depends(body_of(ChatSessionCreate))],
    chat: Chat,
) -> Response:
    record = await chat.open_session(
        merchant.merchant_id,
        amount=params.amount,
        currency=params.currency,
        description=params.description,
    )
    base = chat.settings.chat_public_base_url or str(request.base_url)
    body = {**chat.describe(record), "url": f"{base.rstrip('/')}/pay/{record.id}"}
    return StripeJSONResponse(body)
