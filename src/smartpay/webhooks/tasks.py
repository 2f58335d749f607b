"""The webhook worker: fan events out to endpoints, then deliver due deliveries.

At-least-once, whatever crashes:

- Fan-out writes an event's delivery rows and marks the event fanned out in one
  transaction. A crash before the commit leaves the event to be fanned out again; the
  unique (event, endpoint) key makes a repeat harmless.
- Delivery claims due rows by pushing their due time forward by a lease (PostgreSQL:
  ``FOR UPDATE SKIP LOCKED``, so several workers share the work), commits, sends, then
  records every outcome in one transaction. A worker that dies after claiming leaves
  its rows due again when the lease ends; the receiver may then see an event twice,
  never zero times. Receivers dedupe by event id.

Failures are retried with exponential backoff and full jitter until the delivery's
retry window ends (dead-lettered), and an endpoint that fails without a single success
for ``webhook_disable_after_hours`` is disabled with a ``webhook_endpoint.disabled`` event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from smartpay.config import Settings
from smartpay.events.schemas import render_event
from smartpay.events.service import EventBatch
from smartpay.kit.api import json_bytes
from smartpay.kit.db import Database, snapshot
from smartpay.vault.keys import KeyProvider
from smartpay.webhooks import repository, service, urls
from smartpay.webhooks.models import DeliveryStatus, EndpointStatus
from smartpay.webhooks.schemas import render_endpoint
from smartpay.webhooks.signing import SIGNATURE_HEADER, signature_header

logger = logging.getLogger("smartpay.webhooks")

Clock = Callable[[], float]

# Events fanned out per transaction: one query for the endpoints of the batch's
# merchants and one multi-row INSERT, small enough to keep the transaction short.
FANOUT_BATCH = 500
# Deliveries claimed per round: a few waves of `webhook_concurrency` (32) requests, so a
# round ends well within the default lease (`webhook_lease_seconds`, 300 s) even if every
# request times out (8 waves x 10 s).
CLAIM_BATCH = 256
# Retry schedule: attempt n waits uniform(0, min(CAP, BASE * 2**(n-1))) seconds ("full
# jitter", AWS Architecture Blog, "Exponential Backoff And Jitter", 2015). The base makes
# the first retry come within 30 s; the cap keeps a recovered endpoint waiting at most
# 6 h. Over Stripe's 3-day window this is about 15-25 attempts.
BACKOFF_BASE_SECONDS = 30
BACKOFF_CAP_SECONDS = 6 * 3600
# How much of a response body the delivery log keeps (as Stripe's dashboard shows).
RESPONSE_BODY_BYTES = 500
# Column sizes of the delivery log's error texts.
ERROR_MAX_CHARS = 1000
# Open connections in the HTTP client's pool. httpcore's pool scans every connection for
# every queued request (quadratic): measured with bench/webhooks.py, 8 connections carry
# ~640 deliveries/s to one local receiver where 32 carry ~400/s.
MAX_POOL_CONNECTIONS = 8
# Destinations whose connection pools are kept open between rounds.
MAX_CLIENTS = 256
USER_AGENT = "SmartPay/1.0 (+https://stripe.com/docs/webhooks)"


def backoff_seconds(attempts: int, rng: random.Random) -> float:
    """How long to wait before retrying a delivery that has failed ``attempts`` times."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** min(attempts - 1, 30))
    return rng.uniform(0, ceiling)


def new_client(settings: Settings) -> httpx.AsyncClient:
    connections = min(settings.webhook_concurrency, MAX_POOL_CONNECTIONS)
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(
        timeout=settings.webhook_timeout_seconds,
        limits=limits,
        follow_redirects=False,  # a redirect is a failure (as Stripe treats it), never followed
        trust_env=False,  # no proxy from the environment between us and the merchant
    )


class Clients:
    """One HTTP client (connection pool) per destination, so one slow merchant holds at
    most MAX_POOL_CONNECTIONS of the worker's ``webhook_concurrency`` requests."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._clients: dict[tuple[str, str, str], httpx.AsyncClient] = {}

    def get(self, scheme: str, host: str, address: str) -> httpx.AsyncClient:
        key = (scheme, host, address)
        client = self._clients.get(key)
        if client is None:
            client = self._clients[key] = new_client(self.settings)
        return client

    async def trim(self) -> None:
        """Close the oldest clients beyond MAX_CLIENTS (call between rounds only)."""
        while len(self._clients) > MAX_CLIENTS:
            oldest = next(iter(self._clients))
            await self._clients.pop(oldest).aclose()

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()

    async def __aenter__(self) -> Clients:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()


@dataclass(slots=True)
class Outcome:
    delivery: Any
    attempted_at: int
    status_code: int | None = None
    latency_ms: int = 0
    response_body: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.status_code is not None and 200 <= self.status_code < 300


@dataclass(slots=True)
class Dispatcher:
    """Fans out and delivers. ``now`` and ``rng`` make time and jitter controllable."""

    database: Database
    settings: Settings
    keys: KeyProvider
    clients: Clients
    now: Clock = time.time
    rng: random.Random = field(default_factory=random.SystemRandom)
    resolver: urls.Resolver = urls.system_resolver

    async def run_round(self) -> dict[str, int]:
        """Fan out every new event, then deliver one batch of due deliveries."""
        fanned = 0
        while True:
            batch = await self.fan_out()
            fanned += batch
            if batch < FANOUT_BATCH:
                break
        summary = await self.deliver_due()
        await self.clients.trim()
        return {"webhook_events_fanned_out": fanned, **summary}

    async def fan_out(self) -> int:
        """Turn one batch of new events into delivery rows; the number of events."""
        async with self.database.transaction() as session:
            found = await repository.claim_unfanned_events(session, FANOUT_BATCH)
            if not found:
                return 0
            current = int(self.now())
            give_up_at = current + int(self.settings.webhook_retry_hours * 3600)
            endpoints = await repository.enabled_endpoints(
                session, sorted({e.merchant_id for e in found})
            )
            rows = [
                service.delivery_row(event.id, endpoint, current, give_up_at)
                for event in found
                for endpoint in endpoints
                # An endpoint receives the events raised after it was created.
                if endpoint.created <= event.created and service.wants(endpoint, event)
            ]
            await repository.insert_deliveries(session, rows)
            await repository.mark_fanned_out(session, [e.id for e in found])
        return len(found)

    async def deliver_due(self) -> dict[str, int]:
        """Claim, send and record one batch of due deliveries."""
        summary = {
            "webhooks_attempted": 0,
            "webhooks_delivered": 0,
            "webhooks_retrying": 0,
            "webhooks_dead_lettered": 0,
            "webhook_endpoints_disabled": 0,
        }
        current = int(self.now())
        async with self.database.transaction() as session:
            lease_until = current + self.settings.webhook_lease_seconds
            ids = await repository.claim_due(session, current, lease_until, CLAIM_BATCH)
            if not ids:
                return summary
            deliveries = await repository.deliveries_by_ids(session, ids)
            endpoint_ids = sorted({d.endpoint_id for d in deliveries})
            endpoints = {e.id: e for e in await repository.endpoints_by_ids(session, endpoint_ids)}
            event_ids = sorted({d.event_id for d in deliveries})
            events = {e.id: e for e in await repository.events_by_ids(session, event_ids)}
            secrets = service.open_secrets(
                self.keys, await repository.live_secrets(session, endpoint_ids, current)
            )
            sendable: list[tuple[Any, Any, Any, list[str]]] = []
            unsendable: list[str] = []
            for delivery in deliveries:
                endpoint = endpoints.get(delivery.endpoint_id)
                event = events.get(delivery.event_id)
                if (
                    endpoint is None
                    or endpoint.deleted
                    or endpoint.status != EndpointStatus.ENABLED
                    or event is None
                ):
                    unsendable.append(delivery.id)
                else:
                    sendable.append((delivery, endpoint, event, secrets.get(endpoint.id, [])))
            if unsendable:
                await repository.dead_letter(
                    session, unsendable, "not sent: the endpoint is disabled or deleted"
                )
                summary["webhooks_dead_lettered"] += len(unsendable)

        limit = asyncio.Semaphore(self.settings.webhook_concurrency)

        async def bounded(item: tuple[Any, Any, Any, list[str]]) -> Outcome:
            async with limit:
                return await self.send(*item)

        outcomes = await asyncio.gather(*(bounded(item) for item in sendable))
        await self.record(outcomes, endpoints, summary)
        return summary

    async def send(self, delivery: Any, endpoint: Any, event: Any, secrets: list[str]) -> Outcome:
        """POST the signed event to the endpoint once; never raises for a network failure."""
        outcome = Outcome(delivery=delivery, attempted_at=int(self.now()))
        body = json_bytes(render_event(event))
        timeout = self.settings.webhook_timeout_seconds
        started = time.perf_counter()
        try:
            target = await urls.check(endpoint.url, self.settings, self.resolver)
            parts = urlsplit(endpoint.url)
            headers = {
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                "Host": parts.netloc,
                SIGNATURE_HEADER: signature_header(secrets, int(self.now()), body),
            }
            extensions = {"sni_hostname": target.host} if parts.scheme == "https" else {}
            async with (
                asyncio.timeout(timeout),
                self.clients.get(parts.scheme, target.host, target.address).stream(
                    "POST",
                    urls.pinned_url(parts, target.address),
                    content=body,
                    headers=headers,
                    extensions=extensions,
                ) as response,
            ):
                outcome.status_code = response.status_code
                outcome.response_body = await _read_head(response)
            if not outcome.ok:
                outcome.error = f"the endpoint answered HTTP {response.status_code}"
        except urls.UnsafeUrl as exc:
            outcome.error = f"not sent: {exc}"
        except (TimeoutError, httpx.TimeoutException):
            outcome.error = f"timed out after {timeout:g} s"
        except httpx.HTTPError as exc:
            outcome.error = f"{type(exc).__name__}: {exc}"[:ERROR_MAX_CHARS] or "HTTP error"
        outcome.latency_ms = int((time.perf_counter() - started) * 1000)
        return outcome

    async def record(
        self, outcomes: Sequence[Outcome], endpoints: dict[str, Any], summary: dict[str, int]
    ) -> None:
        """Write every outcome, the attempts log and endpoint health in one transaction."""
        if not outcomes:
            return
        current = int(self.now())
        results: list[dict[str, Any]] = []
        attempts: list[dict[str, Any]] = []
        succeeded: set[str] = set()
        failed: set[str] = set()
        for outcome in outcomes:
            delivery = outcome.delivery
            count = delivery.attempts + 1
            result: dict[str, Any] = {
                "b_id": delivery.id,
                "attempts": count,
                "last_status_code": outcome.status_code,
                "last_error": outcome.error,
                "delivered_at": None,
            }
            if outcome.ok:
                result.update(
                    status=DeliveryStatus.DELIVERED, next_attempt_at=current, delivered_at=current
                )
                succeeded.add(delivery.endpoint_id)
                summary["webhooks_delivered"] += 1
            elif current >= delivery.give_up_at:
                result.update(
                    status=DeliveryStatus.FAILED,
                    next_attempt_at=current,
                    last_error=_clip(f"gave up after {count} attempts: {outcome.error}"),
                )
                failed.add(delivery.endpoint_id)
                summary["webhooks_dead_lettered"] += 1
            else:
                retry_at = current + max(1, round(backoff_seconds(count, self.rng)))
                result.update(
                    status=DeliveryStatus.PENDING,
                    next_attempt_at=min(retry_at, delivery.give_up_at),
                )
                failed.add(delivery.endpoint_id)
                summary["webhooks_retrying"] += 1
            results.append(result)
            attempts.append(
                {
                    "delivery_id": delivery.id,
                    "attempted_at": outcome.attempted_at,
                    "status_code": outcome.status_code,
                    "latency_ms": outcome.latency_ms,
                    "response_body": outcome.response_body,
                    "error": _clip(outcome.error),
                }
            )
        summary["webhooks_attempted"] += len(outcomes)
        failing = sorted(failed - succeeded)
        cutoff = current - int(self.settings.webhook_disable_after_hours * 3600)
        async with self.database.transaction() as session:
            await repository.record_results(session, results)
            await repository.insert_attempts(session, attempts)
            if succeeded:
                await repository.clear_failing(session, sorted(succeeded))
            if failing:
                await repository.mark_failing(session, failing, current)
                disabled = await repository.disable_failing(session, failing, cutoff)
                for row in disabled:
                    batch = EventBatch(merchant_id=row.merchant_id)
                    obj = render_endpoint(snapshot(row, status=EndpointStatus.DISABLED))
                    batch.add(service.ENDPOINT_DISABLED_EVENT, obj, {"status": row.status})
                    await batch.flush(session)
                    logger.warning(
                        "webhook endpoint %s disabled: failing since %s", row.id, row.failing_since
                    )
                summary["webhook_endpoints_disabled"] += len(disabled)


async def _read_head(response: httpx.Response) -> str:
    """The first RESPONSE_BODY_BYTES of the body, as text a database column can hold."""
    head = bytearray()
    async for chunk in response.aiter_raw():
        head.extend(chunk)
        if len(head) >= RESPONSE_BODY_BYTES:
            break
    return bytes(head[:RESPONSE_BODY_BYTES]).decode("utf-8", errors="replace").replace("\x00", "")


def _clip(text: str | None) -> str | None:
    return None if text is None else text[:ERROR_MAX_CHARS].replace("\x00", "")


def dispatcher_for(platform: Any, clients: Clients, **options: Any) -> Dispatcher:
    return Dispatcher(
        database=platform.database,
        settings=platform.settings,
        keys=platform.keyring,
        clients=clients,
        **options,
    )


async def run_round(platform: Any) -> dict[str, int]:
    """One fan-out and delivery round with its own HTTP client (the worker's run_once)."""
    async with Clients(platform.settings) as clients:
        return await dispatcher_for(platform, clients).run_round()


async def run_forever(platform: Any, stop: asyncio.Event) -> None:
    """Deliver until ``stop``: back to back while there is work, else every poll interval."""
    interval = platform.settings.webhook_poll_interval_seconds
    async with Clients(platform.settings) as clients:
        dispatcher = dispatcher_for(platform, clients)
        while not stop.is_set():
            busy = False
            try:
                summary = await dispatcher.run_round()
                busy = bool(summary["webhook_events_fanned_out"] or summary["webhooks_attempted"])
            except Exception:
                logger.exception("webhook round failed; retrying next round")
            if not busy:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=interval)
