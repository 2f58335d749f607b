"""The worker: background jobs that run after commits: the janitor that resolves
attempts left pending or unknown, processing of inbound processor webhooks, settlement
of matured funds, the purge of expired chat sessions, and webhook delivery (its own
faster loop in ``run_forever``). Each job is idempotent, so several workers (or a
restart mid-run) are safe."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from smartpay.ach import tasks as ach_tasks
from smartpay.chat import tasks as chat_tasks
from smartpay.escrow import tasks as escrow_tasks
from smartpay.inbound import tasks as inbound_tasks
from smartpay.kit.clock import now
from smartpay.ledger import service as ledger
from smartpay.ops import heartbeat
from smartpay.ops.alerts import AlertMonitor
from smartpay.platform import Platform
from smartpay.webhooks import tasks as webhook_tasks

logger = logging.getLogger("smartpay.worker")


async def run_once(platform: Platform, *, webhooks: bool = True) -> dict[str, int]:
    """One round of every job. ``webhooks=False`` leaves webhook delivery to its own loop."""
    resolved = await platform.payment_flows.resolve_open_attempts()
    async with platform.database.transaction() as session:
        settled = await ledger.settle_due(session, now())
    inbound = await inbound_tasks.process_pending(platform)
    summary = {
        "resolved_attempts": resolved,
        "settled_entries": settled,
        "inbound_webhooks": inbound,
    }
    # ACH batches, sandbox bank, returns, settlement, cost rows; then escrow releases.
    summary.update(await ach_tasks.run_round(platform, now=now()))
    summary.update(await escrow_tasks.run_round(platform, now=now()))
    # Card data of chat sessions past their TTL, even if nobody opens them again.
    summary.update(await chat_tasks.run_round(platform, now=now()))
    if webhooks:
        summary.update(await webhook_tasks.run_round(platform))
    return summary


async def run_forever(platform: Platform, stop: asyncio.Event) -> None:
    interval = platform.settings.janitor_interval_seconds
    started_at = now()
    alerts = AlertMonitor(platform.database, platform.settings)
    # Webhooks poll far more often than the janitor runs: delivery lag is seconds at most.
    deliveries = asyncio.create_task(webhook_tasks.run_forever(platform, stop))
    try:
        while not stop.is_set():
            try:
                await heartbeat.beat(platform.database, now(), started_at)
                summary = await run_once(platform, webhooks=False)
                if any(summary.values()):
                    logger.info("worker round: %s", summary)
                await alerts.run_round()
            except Exception:
                logger.exception("worker round failed; retrying next round")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
    finally:
        deliveries.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await deliveries
