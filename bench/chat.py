"""Server-side time per chat turn without an LLM: p50 and p99 over many conversations
(embedded SQLite store, sandbox processor). Prints figures only.

    .venv/bin/python bench/chat.py
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from smartpay.chat.service import build_chat_service
from smartpay.config import Settings
from smartpay.kit.db import metadata
from smartpay.merchants.service import create_merchant
from smartpay.models_registry import import_all_models
from smartpay.platform import build_platform

CONVERSATIONS = 200
TURNS = ("John Smith", "4242 4242 4242 4242", "12/29", "737", "is this secure?", "yes")


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(data_dir=Path(folder), run_worker_in_process=False)
        platform = build_platform(settings)
        import_all_models()
        async with platform.database.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        async with platform.database.transaction() as session:
            keys = await create_merchant(session, "bench")
        chat = build_chat_service(
            settings,
            database=platform.database,
            vault=platform.vault,
            cvc_store=platform.cvc_store,
            flows=platform.payment_flows,
        )
        collecting: list[float] = []
        paying: list[float] = []
        for index in range(CONVERSATIONS):
            record = await chat.open_session(keys.merchant_id, amount=1000 + index, currency="usd")
            for message in TURNS:
                started = time.perf_counter()
                await chat.message(None, record.id, message)
                elapsed = (time.perf_counter() - started) * 1000
                (paying if message == "yes" else collecting).append(elapsed)
        await chat.close()
        await platform.close()
    for label, samples in (("collecting turns", collecting), ("confirm+pay turns", paying)):
        cuts = statistics.quantiles(samples, n=100)
        print(f"{label}: n={len(samples)} p50={cuts[49]:.2f} ms p99={cuts[98]:.2f} ms")


if __name__ == "__main__":
    asyncio.run(main())
