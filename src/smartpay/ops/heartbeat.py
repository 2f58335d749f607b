"""The worker's heartbeat: each worker process refreshes its row every round, so
/readyz on any API process can tell whether background work is being done."""

from __future__ import annotations

import os
import socket

from smartpay.kit.db import Database
from smartpay.ops import repository

# Rows of workers silent for this long are deleted: a day of history is enough to see
# that a worker died, and the table stays a handful of rows.
FORGET_AFTER_SECONDS = 86_400
# A worker is alive if it beat within this many janitor intervals (a round can take a
# few intervals when the janitor has work), and never less than this many seconds.
LIVENESS_INTERVALS = 3
MIN_LIVENESS_SECONDS = 30


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:200]


async def beat(database: Database, now: int, started_at: int) -> None:
    async with database.transaction() as session:
        await repository.record_heartbeat(session, worker_id(), now, started_at)
        await repository.forget_heartbeats(session, now - FORGET_AFTER_SECONDS)


def liveness_seconds(janitor_interval_seconds: float) -> float:
    return max(MIN_LIVENESS_SECONDS, LIVENESS_INTERVALS * janitor_interval_seconds)
