"""Authentication as Stripe does it: ``Authorization: Bearer sk_…`` or HTTP basic auth
with the key as the user name.

A publishable key (``pk_…``) is meant for browsers, so its scope is small: it may create
payment methods and drive the payment chat (``/chat``, ``/session/{id}``), and nothing
else. Each route states which it accepts through the dependency it uses below."""

from __future__ import annotations

import base64
import binascii

from fastapi import Request
from starlette.requests import HTTPConnection

from smartpay.errors import AuthenticationFailed, PermissionDenied
from smartpay.merchants.models import KeyKind
from smartpay.merchants.service import KeyResolver, MerchantContext

MAX_KEY_LENGTH = 200


def extract_key(authorization: str | None) -> str:
    if not authorization:
        raise AuthenticationFailed(
            "You did not provide an API key. Provide it in the Authorization header, using "
            "Bearer auth (Authorization: Bearer YOUR_SECRET_KEY) or basic auth with the key "
            "as the user name.",
            code="api_key_missing",
        )
    scheme, _, credentials = authorization.strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer":
        key = credentials
    elif scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise AuthenticationFailed(
                "Invalid basic auth credentials: the user name must be your API key."
            ) from None
        key = decoded.split(":", 1)[0]
    else:
        raise AuthenticationFailed(
            "Invalid Authorization header: use 'Bearer YOUR_SECRET_KEY' or basic auth."
        )
    if not key or len(key) > MAX_KEY_LENGTH:
        raise AuthenticationFailed("Invalid API Key provided.")
    return key


def masked(key: str) -> str:
    return f"{key[:8]}{'*' * 12}{key[-4:]}" if len(key) > 12 else "****"


async def authenticate(request: Request, *, allow_publishable: bool) -> MerchantContext:
    key = extract_key(request.headers.get("authorization"))
    return await authenticate_key(request, key, allow_publishable=allow_publishable)


async def authenticate_key(
    connection: HTTPConnection, key: str, *, allow_publishable: bool
) -> MerchantContext:
    """The merchant behind an API key already taken from the request (an HTTP request or
    a WebSocket, whose key may come from its first message)."""
    if not key or len(key) > MAX_KEY_LENGTH:
        raise AuthenticationFailed("Invalid API Key provided.")
    resolver: KeyResolver = connection.app.state.key_resolver
    context = await resolver.resolve(connection.app.state.database, key)
    if context is None:
        raise AuthenticationFailed(f"Invalid API Key provided: {masked(key)}")
    if context.key_kind is KeyKind.PUBLISHABLE and not allow_publishable:
        raise PermissionDenied(
            "This API call cannot be made with a publishable API key. Please use a secret API key."
        )
    return context


async def secret_key_auth(request: Request) -> MerchantContext:
    return await authenticate(request, allow_publishable=False)


async def any_key_auth(request: Request) -> MerchantContext:
    return await authenticate(request, allow_publishable=True)


async def chat_auth(request: Request) -> MerchantContext | None:
    """The payment chat (``/chat``, ``/session/{id}``): a publishable or secret key, or
    none at all when the caller holds a session id (the customer on the /pay page)."""
    if request.headers.get("authorization") is None:
        return None
    return await authenticate(request, allow_publishable=True)
