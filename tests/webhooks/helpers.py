"""A real HTTP receiver for webhook tests, a controllable clock, and small helpers."""

from __future__ import annotations

import asyncio
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import stripe
from aiohttp import web

from smartpay.events.service import EventBatch
from smartpay.kit.db import Database
from smartpay.webhooks.tasks import Clients, Dispatcher


class Clock:
    """Wall time that only moves when told to (starts at the real time)."""

    def __init__(self) -> None:
        self.value = time.time()

    def __call__(self) -> float:
        return self.value

    def advance(self, seconds: float) -> None:
        self.value += seconds


@dataclass
class Delivery:
    payload: bytes
    signature: str
    host: str


@dataclass
class Receiver:
    """Answers webhook POSTs as told by ``mode``: ok (verifies with the stripe SDK and
    answers 200), error (500), slow (answers after ``slow_seconds``)."""

    secret: str = ""
    mode: str = "ok"
    slow_seconds: float = 2.0
    port: int = 0
    received: list[Delivery] = field(default_factory=list)
    verified: Counter[str] = field(default_factory=Counter)
    rejected: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def handle(self, request: web.Request) -> web.Response:
        payload = await request.read()
        header = request.headers.get("Stripe-Signature", "")
        self.received.append(Delivery(payload, header, request.headers.get("Host", "")))
        if self.mode == "error":
            return web.Response(status=500, text="receiver is down " + "x" * 600)
        if self.mode == "slow":  # answers after the sender gave up; not counted
            await asyncio.sleep(self.slow_seconds)
            return web.Response(status=200, text="too late")
        try:
            event = stripe.Webhook.construct_event(payload.decode(), header, self.secret)
        except (stripe.SignatureVerificationError, ValueError):
            self.rejected += 1
            return web.Response(status=400, text="bad signature")
        self.verified[event.id] += 1
        return web.json_response({"received": True})


@asynccontextmanager
async def running_receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    receiver.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield receiver
    finally:
        await runner.cleanup()


def closed_port() -> int:
    """A port nothing listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def dispatcher(app: Any, clock: Clock, **options: Any) -> AsyncIterator[Dispatcher]:
    import random

    platform = app.state.platform
    async with Clients(platform.settings) as clients:
        yield Dispatcher(
            database=platform.database,
            settings=platform.settings,
            keys=platform.keyring,
            clients=clients,
            now=clock,
            rng=options.pop("rng", random.Random(7)),
            **options,
        )


async def raise_events(
    database: Database, merchant_id: str, count: int, event_type: str = "customer.created"
) -> list[str]:
    batch = EventBatch(merchant_id=merchant_id)
    for index in range(count):
        batch.add(event_type, {"id": f"cus_test{index}", "object": "customer"})
    ids = [row["id"] for row in batch.rows]
    async with database.transaction() as session:
        await batch.flush(session)
    return ids


async def create_endpoint(
    api: Any, url: str, events: tuple[str, ...] = ("*",), **extra: str
) -> dict[str, Any]:
    form: dict[str, object] = {"url": url, **extra}
    form.update({f"enabled_events[{i}]": name for i, name in enumerate(events)})
    response = await api.post("/v1/webhook_endpoints", form)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def deliveries(api: Any, event_id: str) -> list[dict[str, Any]]:
    response = await api.get(f"/v1/events/{event_id}/deliveries")
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def client_for(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
