"""The live event stream: ``GET /v1/stream`` upgraded to a WebSocket, pushing one
merchant's events as they are committed, for the dashboard and for merchants.

Protocol
--------
- Authenticate with a secret key, preferably in the handshake's ``Authorization: Bearer
  sk_…`` header. Clients that cannot set headers (browsers) send it as the first message
  instead: ``{"type": "auth", "key": "sk_…"}`` within ``AUTH_TIMEOUT_SECONDS``. Keys are
  not accepted in the URL, where proxies and access logs would keep them.
- ``?since=evt_…``: resume after that event. Every later event of the merchant is sent,
  oldest first, then live ones. Event ids sort by creation time, so any event id works as
  a cursor; a client that stores the id of the last event it handled and reconnects with
  it sees no gap and no duplicate. Without ``since`` the stream starts now.
- ``?types=charge.succeeded,payment_intent.*``: only these types (exact names, or a
  ``family.*`` prefix); repeat the parameter or separate with commas.
- The server first sends ``{"object": "stream.ready", "cursor": …}``, then one text frame
  per event, each exactly what ``GET /v1/events/{id}`` returns. Messages from the client
  after authentication are ignored.
- Close codes: 4400 bad parameters, 4401 missing, invalid or revoked key, 4403 a
  publishable key, 1011 a server error. Reconnect with ``since`` after any of 1001/1011/
  1012 or a dropped connection.

How events are found
--------------------
Each socket polls the outbox (``events``) every ``POLL_SECONDS`` for the merchant's
events after its cursor: one range scan on ``(merchant_id, id)``. Reading the committed
table, rather than a notifier fed by the writing process, works with any number of API
and worker processes and needs no broker.

Ids are taken when an event is added, inside its transaction, and become visible at
commit. On SQLite writers are serialised (``BEGIN IMMEDIATE``), so commit order is id
order. On PostgreSQL two transactions may commit out of id order; the stream therefore
only sends events whose id is older than ``Settings.stream_commit_lag_seconds``, so a
cursor never moves past an event still being committed.

Other sockets on the same stream
--------------------------------
The dashboard's live feed streams the same way behind its own login. What differs is
only who may listen and how that is checked again while the socket is open, so
:func:`serve` takes an ``admit`` callable that returns a :class:`Subscription` (the
merchant, the parsed request and a ``recheck`` callable) or raises :class:`Refused`;
everything else (cursor, horizon, polling, close codes) is shared.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Final

import orjson
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.datastructures import QueryParams

from smartpay.errors import AuthenticationFailed, PermissionDenied
from smartpay.events import service
from smartpay.events.schemas import render_event
from smartpay.kit.api import json_bytes
from smartpay.kit.db import Database
from smartpay.kit.ids import id_at
from smartpay.merchants.auth import authenticate_key, extract_key
from smartpay.merchants.service import MerchantContext

logger = logging.getLogger("smartpay.stream")

router = APIRouter(tags=["events"])

# 200 ms is below what a person watching a dashboard notices, and costs one indexed
# range scan per open socket five times a second.
POLL_SECONDS: Final = 0.2
# Events per query: a client resuming from an old cursor catches up in pages this size.
BATCH_SIZE: Final = 100
# How long a client without an Authorization header has to send its key.
AUTH_TIMEOUT_SECONDS: Final = 10.0
# An open socket re-checks its credentials (an API key, a dashboard session) this often, so
# a revoked key or an ended session stops streaming (the key cache adds up to
# ``merchants.service.KEY_CACHE_SECONDS``).
RECHECK_SECONDS: Final = 60.0
# Same bound as ``GET /v1/events?types[]=…``.
MAX_TYPES: Final = 20
MAX_AUTH_MESSAGE_BYTES: Final = 1_000

_EVENT_ID: Final = re.compile(r"^evt_[0-9A-Za-z]{24}$")
_EVENT_TYPE: Final = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)*(\.\*)?$")
_MAX_TYPE_LENGTH: Final = 80


class CloseCode(IntEnum):
    SERVER_ERROR = 1011  # something broke on our side: reconnect with ``since``
    BAD_REQUEST = 4400  # ``since`` or ``types`` is malformed
    UNAUTHORIZED = 4401  # no key, an unknown key, or a key revoked while streaming
    FORBIDDEN = 4403  # a publishable key: the stream needs a secret key


class Refused(Exception):
    """Ends a stream (before or while streaming) with a close code and reason."""

    def __init__(self, code: CloseCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        # WebSocket close reasons are limited to 123 bytes.
        self.reason = reason[:120]


@dataclass(slots=True)
class StreamRequest:
    since: str | None
    types: list[str]


def parse_request(query: QueryParams) -> StreamRequest:
    """``since`` and ``types`` from the query string; :class:`Refused` if malformed."""
    since = query.get("since") or None
    if since is not None and not _EVENT_ID.fullmatch(since):
        raise Refused(CloseCode.BAD_REQUEST, "since must be an event id (evt_…).")
    types = [t.strip() for value in query.getlist("types") for t in value.split(",") if t.strip()]
    if len(types) > MAX_TYPES:
        raise Refused(CloseCode.BAD_REQUEST, f"types accepts at most {MAX_TYPES} entries.")
    for event_type in types:
        if len(event_type) > _MAX_TYPE_LENGTH or not _EVENT_TYPE.fullmatch(event_type):
            raise Refused(CloseCode.BAD_REQUEST, f"Invalid event type {event_type[:40]!r}.")
    return StreamRequest(since=since, types=types)


# Called every RECHECK_SECONDS while a socket is open; raises Refused when the listener
# may no longer stream (a revoked key, an ended dashboard session).
Recheck = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Subscription:
    """Who listens to which events, and how to check that they still may."""

    merchant_id: str
    request: StreamRequest
    recheck: Recheck


# Decides, from the opened socket, whether and to what it may listen; raises Refused.
Admit = Callable[[WebSocket], Awaitable[Subscription]]


async def _receive_key(websocket: WebSocket) -> str:
    """The key from the Authorization header, or else from the first message."""
    header = websocket.headers.get("authorization")
    if header:
        return extract_key(header)
    try:
        message = await asyncio.wait_for(websocket.receive(), timeout=AUTH_TIMEOUT_SECONDS)
    except TimeoutError:
        raise AuthenticationFailed("No API key received.") from None
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    raw = message.get("text") or message.get("bytes") or ""
    if len(raw) > MAX_AUTH_MESSAGE_BYTES:
        raise AuthenticationFailed("The authentication message is too large.")
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        document = None
    if (
        not isinstance(document, dict)
        or document.get("type") != "auth"
        or not isinstance(document.get("key"), str)
    ):
        raise AuthenticationFailed(
            'Send the secret key in the Authorization header or as {"type": "auth", "key": …}.'
        )
    key: str = document["key"]
    return key


async def _authenticate(websocket: WebSocket, key: str) -> MerchantContext:
    try:
        return await authenticate_key(websocket, key, allow_publishable=False)
    except AuthenticationFailed as exc:
        raise Refused(CloseCode.UNAUTHORIZED, exc.message) from None
    except PermissionDenied as exc:
        raise Refused(CloseCode.FORBIDDEN, exc.message) from None


class _Stream:
    """One socket's cursor and the loop that moves it."""

    def __init__(
        self,
        websocket: WebSocket,
        database: Database,
        subscription: Subscription,
        lag_seconds: float,
    ) -> None:
        self.websocket = websocket
        self.database = database
        self.merchant_id = subscription.merchant_id
        self.types = subscription.request.types
        self.recheck = subscription.recheck
        self.lag_seconds = lag_seconds
        self.cursor = subscription.request.since or self.horizon()

    def horizon(self) -> str:
        """The newest id this socket may send now (see the module docstring)."""
        return id_at("evt", time.time() - self.lag_seconds)

    async def send_new_events(self) -> None:
        while True:
            async with self.database.transaction() as session:
                rows = await service.after(
                    session, self.merchant_id, self.cursor, self.horizon(), self.types, BATCH_SIZE
                )
            for row in rows:
                await _send(self.websocket, render_event(row))
                self.cursor = row.id
            if len(rows) < BATCH_SIZE:
                return

    async def run(self) -> None:
        await _send(self.websocket, {"object": "stream.ready", "cursor": self.cursor})
        receiver = asyncio.ensure_future(self.websocket.receive())
        recheck_at = time.monotonic() + RECHECK_SECONDS
        try:
            while True:
                await self.send_new_events()
                done, _ = await asyncio.wait({receiver}, timeout=POLL_SECONDS)
                if done:
                    if receiver.result()["type"] == "websocket.disconnect":
                        return
                    receiver = asyncio.ensure_future(self.websocket.receive())
                if time.monotonic() >= recheck_at:
                    await self.recheck()
                    recheck_at = time.monotonic() + RECHECK_SECONDS
        finally:
            receiver.cancel()
            with contextlib.suppress(BaseException):
                await receiver


async def _send(websocket: WebSocket, frame: dict[str, Any]) -> None:
    await websocket.send_text(json_bytes(frame).decode())


async def serve(websocket: WebSocket, admit: Admit, *, name: str = "event stream") -> None:
    """Accept the socket, admit the listener, then stream its events until it leaves or
    is refused. Refusals close with their code; a failure is logged (as ``name``) and
    closes with 1011, so the client reconnects with ``since``."""
    await websocket.accept()
    app_state = websocket.app.state
    database: Database = app_state.database
    lag = 0.0 if database.is_sqlite else float(app_state.settings.stream_commit_lag_seconds)
    try:
        subscription = await admit(websocket)
        await _Stream(websocket, database, subscription, lag).run()
    except Refused as exc:
        await _close(websocket, exc.code, exc.reason)
    except WebSocketDisconnect:
        return
    except Exception:
        logger.exception("%s failed", name)
        await _close(websocket, CloseCode.SERVER_ERROR, "Internal error: reconnect with since.")


async def _admit_by_key(websocket: WebSocket) -> Subscription:
    request = parse_request(websocket.query_params)
    try:
        key = await _receive_key(websocket)
    except AuthenticationFailed as exc:
        raise Refused(CloseCode.UNAUTHORIZED, exc.message) from None
    merchant = await _authenticate(websocket, key)

    async def recheck() -> None:
        await _authenticate(websocket, key)

    return Subscription(merchant.merchant_id, request, recheck)


@router.websocket("/v1/stream")
async def stream(websocket: WebSocket) -> None:
    await serve(websocket, _admit_by_key)


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    # The client may already be gone; there is nobody left to tell.
    with contextlib.suppress(Exception):
        await websocket.close(code=code, reason=reason)
