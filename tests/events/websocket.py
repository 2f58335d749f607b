"""A WebSocket client for the in-process app: drives the ASGI WebSocket protocol on the
test's own event loop (the ``api`` fixture's app and database live there), with a
timeout on every wait so a broken stream fails a test instead of hanging it."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlencode

# Generous: a frame the stream owes arrives within a poll (200 ms) plus the commit lag.
RECEIVE_TIMEOUT_SECONDS = 10.0


class Closed(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"closed {code}: {reason}")
        self.code = code
        self.reason = reason


class WebSocketClient:
    def __init__(
        self,
        app: Any,
        path: str = "/v1/stream",
        *,
        key: str | None = None,
        params: dict[str, str] | list[tuple[str, str]] | None = None,
    ) -> None:
        headers = [(b"host", b"testserver")]
        if key is not None:
            headers.append((b"authorization", f"Bearer {key}".encode()))
        self.scope = {
            "type": "websocket",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "scheme": "ws",
            "server": ("testserver", 80),
            "client": ("testclient", 50000),
            "root_path": "",
            "path": path,
            "raw_path": path.encode(),
            "query_string": urlencode(params or {}).encode(),
            "headers": headers,
            "subprotocols": [],
        }
        self.app = app
        self._to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.closed: Closed | None = None

    async def __aenter__(self) -> WebSocketClient:
        await self._to_app.put({"type": "websocket.connect"})
        self._task = asyncio.create_task(self.app(self.scope, self._to_app.get, self._from_app.put))
        message = await self._next()
        assert message["type"] == "websocket.accept", message
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._to_app.put({"type": "websocket.disconnect", "code": 1000})
        assert self._task is not None
        await asyncio.wait_for(self._task, RECEIVE_TIMEOUT_SECONDS)

    async def _next(self, timeout: float = RECEIVE_TIMEOUT_SECONDS) -> dict[str, Any]:
        return await asyncio.wait_for(self._from_app.get(), timeout)

    async def send_json(self, document: Any) -> None:
        await self._to_app.put({"type": "websocket.receive", "text": json.dumps(document)})

    async def receive_json(self, timeout: float = RECEIVE_TIMEOUT_SECONDS) -> Any:
        message = await self._next(timeout)
        if message["type"] == "websocket.close":
            self.closed = Closed(message.get("code", 1000), message.get("reason") or "")
            raise self.closed
        assert message["type"] == "websocket.send", message
        return json.loads(message["text"])

    async def receive_events(self, count: int) -> list[dict[str, Any]]:
        return [await self.receive_json() for _ in range(count)]

    async def expect_close(self) -> Closed:
        try:
            frame = await self.receive_json()
        except Closed as closed:
            return closed
        raise AssertionError(f"expected the socket to close, got {frame}")

    async def assert_quiet(self, seconds: float) -> None:
        """Nothing more arrives for ``seconds``."""
        try:
            message = await self._next(seconds)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected frame {message}")
