"""The worker: background jobs that run after commits. Today: the janitor that resolves
attempts left pending or unknown, and settlement of matured funds. Each job is
idempotent, so several workers (or a restart mid-run) are safe."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from smartpay.kit.clock import now
from smartpay.ledger import service as ledger
from smartpay.platform import Platform

logger = logging.getLogger("smartpay.worker")


async def run_once(platform: Platform) -> dict[str, int]:
    resolved = await platform.payment_flows.resolve_open_attempts()
    async with platform.database.transaction() as session:
        settled = await ledger.settle_due(session, now())
    return {"resolved_attempts": resolved, "settled_entries": settled}


async def run_forever(platform: Platform, stop: asyncio.Event) -> None:
    interval = platform.settings.janitor_interval_seconds
    while not stop.is_set():
        try:
            summary = await run_once(platform)
            if any(summary.values()):
                logger.info("worker round: %s", summary)
        except Exception:
            logger.exception("worker round failed; retrying next round")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
