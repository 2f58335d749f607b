"""Benchmark: create+confirm card payments over HTTP, sandbox processor at zero latency.

Two measurements per database (SQLite and PostgreSQL):

1. Throughput: wrk (closed loop, N connections) drives POST /v1/payment_intents with
   confirm=true for a fixed time; payments/s and wrk's latency percentiles.
2. Latency under a fixed offered load (open loop, default 500/s): requests are sent on a
   schedule whether or not earlier ones finished, and latency is measured from the
   scheduled send time, so queueing shows up in p99 (no coordinated omission).

Run: `make bench`, or `.venv/bin/python bench/payments.py --help`.
Prints figures; asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import cast

import aiohttp
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.conftest import create_merchant_with_cli  # noqa: E402
from tests.e2e.server import running_server, server_env, smartpay  # noqa: E402

WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer {secret}"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "amount=2000&currency=usd&payment_method={pm}&confirm=true"
"""


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def create_payment_method(base_url: str, secret: str) -> str:
    import httpx

    response = httpx.post(
        f"{base_url}/v1/payment_methods",
        headers={"Authorization": f"Bearer {secret}"},
        data={
            "type": "card",
            "card[number]": "4242424242424242",
            "card[exp_month]": "12",
            "card[exp_year]": "2031",
        },
    )
    response.raise_for_status()
    return str(response.json()["id"])


def run_wrk(
    base_url: str, secret: str, pm: str, seconds: int, connections: int
) -> dict[str, float]:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed: `apt-get install -y wrk` (make bench does it).")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT.format(secret=secret, pm=pm))
    out = subprocess.run(
        [
            wrk,
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            script.name,
            f"{base_url}/v1/payment_intents",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    os.unlink(script.name)
    throughput = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if throughput is None:
        raise SystemExit(f"wrk printed no Requests/sec line:\n{out}")
    figures: dict[str, float] = {"requests_per_second": float(throughput.group(1))}
    for label in ("50%", "99%"):
        match = re.search(rf"{re.escape(label)}\s+([\d.]+)(us|ms|s)", out)
        if match:
            value = float(match.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)]
            figures[f"p{label[:-1]}_ms"] = value
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    figures["non_2xx"] = float(non2xx.group(1)) if non2xx else 0.0
    return figures


async def open_loop(
    base_url: str, secret: str, pm: str, rate: int, seconds: int
) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {secret}"}
    body = {"amount": "2000", "currency": "usd", "payment_method": pm, "confirm": "true"}
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(base_url, headers=headers, connector=connector) as session:

        async def one(scheduled: float) -> None:
            nonlocal errors
            async with session.post("/v1/payment_intents", data=body) as response:
                await response.read()
                if response.status != 200:
                    errors += 1
            latencies.append((time.perf_counter() - scheduled) * 1000)

        start = time.perf_counter()
        tasks = []
        for i in range(rate * seconds):
            scheduled = start + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(scheduled)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    return {
        "offered_per_second": rate,
        "achieved_per_second": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies),
        "p99_ms": percentile(latencies, 99),
        "errors": errors,
    }


def recreate_postgres_database(url: str) -> None:
    """An empty database of `url`'s name on the local server (dropped first if it exists)."""
    name = make_url(url).database
    for sql in (f"drop database if exists {name}", f"create database {name}"):
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", sql], check=True)


def bench_one(label: str, database_url: str, args: argparse.Namespace) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        env = server_env(Path(tmp) / "data", database_url, SMARTPAY_LOG_LEVEL="warning")
        migrated = smartpay(env, "migrate")
        assert migrated.returncode == 0, migrated.stderr
        secret, _ = create_merchant_with_cli(env, "Bench merchant")
        with running_server(env, Path(tmp) / "server.log", workers=args.workers) as server:
            pm = create_payment_method(server.base_url, secret)
            run_wrk(server.base_url, secret, pm, 3, args.connections)  # warm-up
            throughput = run_wrk(server.base_url, secret, pm, args.seconds, args.connections)
            latency = asyncio.run(open_loop(server.base_url, secret, pm, args.rate, args.seconds))
        verify = smartpay(env, "ledger", "verify")
    return {
        "database": label,
        "workers": args.workers,
        "throughput": throughput,
        "open_loop": latency,
        "ledger_verify_ok": verify.returncode == 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rate", type=int, default=500, help="open-loop offered payments/s")
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    parser.add_argument(
        "--postgres", default="postgresql+asyncpg://postgres@127.0.0.1:5432/smartpay_bench"
    )
    parser.add_argument("--only", choices=["sqlite", "postgres"], default=None)
    args = parser.parse_args()
    results = []
    if args.only in (None, "sqlite"):
        with tempfile.TemporaryDirectory() as tmp:
            results.append(bench_one("sqlite", f"sqlite+aiosqlite:///{tmp}/bench.db", args))
    if args.only in (None, "postgres"):
        recreate_postgres_database(args.postgres)
        results.append(bench_one("postgres", args.postgres, args))
    for result in results:
        t = cast(dict[str, float], result["throughput"])
        o = cast(dict[str, float], result["open_loop"])
        print(
            f"{result['database']:>8} ({result['workers']} workers): "
            f"{t['requests_per_second']:.0f} payments/s, wrk p50 {t.get('p50_ms', 0):.1f} ms "
            f"p99 {t.get('p99_ms', 0):.1f} ms, non-2xx {t['non_2xx']:.0f} | "
            f"open loop {o['offered_per_second']}/s offered -> {o['achieved_per_second']:.0f}/s, "
            f"p50 {o['p50_ms']:.1f} ms p99 {o['p99_ms']:.1f} ms, errors {o['errors']:.0f} | "
            f"ledger verify {'ok' if result['ledger_verify_ok'] else 'FAILED'}"
        )
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
