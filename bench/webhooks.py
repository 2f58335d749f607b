"""Benchmark: webhook delivery from one worker to a local receiver.

1. Throughput: N events already committed; one worker (``webhooks.tasks.run_forever``,
   the loop `smartpay worker` runs) fans them out and delivers them; deliveries/s.
2. Lag at a fixed offered load (default 200 events/s for 10 s): events are committed on
   a schedule while the worker runs; lag = receiver arrival time - commit time, p50/p99.

The receiver is a separate process (aiohttp) that answers 200 and records arrival times.
Run: `.venv/bin/python bench/webhooks.py [--database-url postgresql+asyncpg://...]`.
Prints figures; asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from smartpay.config import Settings  # noqa: E402
from smartpay.events.service import EventBatch  # noqa: E402
from smartpay.kit.db import metadata  # noqa: E402
from smartpay.merchants.service import create_merchant  # noqa: E402
from smartpay.models_registry import import_all_models  # noqa: E402
from smartpay.platform import Platform, build_platform  # noqa: E402
from smartpay.webhooks import service as webhooks  # noqa: E402
from smartpay.webhooks import tasks  # noqa: E402
from smartpay.webhooks.schemas import EndpointCreate  # noqa: E402

RECEIVER = """
import sys, time
from aiohttp import web
out = open(sys.argv[2], "w", buffering=1)
async def hook(request):
    body = await request.read()
    i = body.index(b'"id":"') + 6
    event_id = body[i:body.index(b'"', i)].decode()
    out.write(event_id + " " + repr(time.time()) + "\\n")
    return web.Response(text="ok")
app = web.Application()
app.router.add_post("/hook", hook)
async def close(_app):
    out.close()
app.on_cleanup.append(close)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def read_arrivals(path: Path) -> dict[str, float]:
    arrivals: dict[str, float] = {}
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2:  # skip a line still being written
            arrivals.setdefault(parts[0], float(parts[1]))
    return arrivals


async def setup(settings: Settings, url: str) -> tuple[Platform, str]:
    import_all_models()
    platform = build_platform(settings)
    async with platform.database.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    async with platform.database.transaction() as session:
        keys = await create_merchant(session, "Bench merchant")
        params = EndpointCreate(url=url, enabled_events=["*"])
        await webhooks.create(session, platform.keyring, keys.merchant_id, params)
    return platform, keys.merchant_id


async def commit_events(platform: Platform, merchant_id: str, count: int) -> dict[str, float]:
    batch = EventBatch(merchant_id=merchant_id)
    for index in range(count):
        batch.add("charge.succeeded", {"id": f"ch_{index}", "object": "charge", "amount": 100})
    ids = [row["id"] for row in batch.rows]
    async with platform.database.transaction() as session:
        await batch.flush(session)
    committed = time.time()
    return dict.fromkeys(ids, committed)


def arrived(path: Path, wanted: int) -> bool:
    # Lines written so far (an upper bound of distinct ids); confirmed with a full read.
    if not path.exists() or path.read_bytes().count(b"\n") < wanted:
        return False
    return len(read_arrivals(path)) >= wanted


async def wait_for(path: Path, wanted: int, limit_seconds: float) -> None:
    poll = 0.02
    for _ in range(int(limit_seconds / poll)):
        if arrived(path, wanted):
            return
        await asyncio.sleep(poll)


async def run(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="smartpay-bench-wh-"))
    database_url = args.database_url or f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    if database_url.startswith("postgresql"):
        database_url = await fresh_postgres(database_url)
    port = free_port()
    arrivals_path = workdir / "arrivals.txt"
    receiver = subprocess.Popen(  # noqa: ASYNC220 - started once, before timing
        [sys.executable, "-c", RECEIVER, str(port), str(arrivals_path)],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    settings = Settings(
        data_dir=workdir / "data",
        database_url=database_url,
        webhook_allow_loopback=True,
        create_demo_merchant=False,
    )
    platform, merchant_id = await setup(settings, f"http://127.0.0.1:{port}/hook")
    await asyncio.sleep(1.0)  # receiver start-up
    try:
        # 1. Throughput: a backlog of committed events, one worker.
        await commit_events(platform, merchant_id, args.events)
        stop = asyncio.Event()
        started = time.perf_counter()
        worker = asyncio.create_task(tasks.run_forever(platform, stop))
        await wait_for(arrivals_path, args.events, limit_seconds=600)
        elapsed = time.perf_counter() - started
        delivered = len(read_arrivals(arrivals_path))
        print(f"database: {database_url.split('://')[0]}")
        print(
            f"throughput: {delivered} deliveries in {elapsed:.2f} s = "
            f"{delivered / elapsed:.0f} deliveries/s (one worker, fan-out included)"
        )

        # 2. Lag under a fixed offered load, the worker still running.
        committed: dict[str, float] = {}
        interval = 1 / args.rate
        total = int(args.rate * args.seconds)
        begin = time.perf_counter()
        for index in range(total):
            delay = begin + index * interval - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            committed.update(await commit_events(platform, merchant_id, 1))
        await wait_for(arrivals_path, args.events + total, limit_seconds=120)
        stop.set()
        await worker
        arrivals = read_arrivals(arrivals_path)
        lags = [arrivals[i] - at for i, at in committed.items() if i in arrivals]
        print(
            f"lag at {args.rate:g} events/s for {args.seconds:g} s: {len(lags)}/{total} "
            f"delivered, commit->delivery p50 {percentile(lags, 50) * 1000:.0f} ms, "
            f"p99 {percentile(lags, 99) * 1000:.0f} ms, max {max(lags) * 1000:.0f} ms"
        )
    finally:
        receiver.terminate()
        receiver.wait(timeout=10)
        await platform.close()


async def fresh_postgres(base_url: str) -> str:
    import asyncpg
    from sqlalchemy.engine import make_url

    url = make_url(base_url)
    name = f"smartpay_bench_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 5432,
        user=url.username or "postgres",
        password=url.password,
        database="postgres",
    )
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return url.set(database=name).render_as_string(hide_password=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    parser.add_argument("--events", type=int, default=5000, help="backlog for throughput")
    parser.add_argument("--rate", type=float, default=200, help="offered events/s for lag")
    parser.add_argument("--seconds", type=float, default=10, help="duration of the lag run")
    args = parser.parse_args()
    orjson.dumps(None)  # warm the import
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
