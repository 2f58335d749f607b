"""Benchmark: fraud scoring of one transaction, in process.

Two measurements, per call, over the last simulated day's transactions:

1. Model inference alone: the shipped booster on one NumPy feature row, plus the
   calibration to a 0–1000 score (goal: p99 ≤ 100 µs). Reasons (SHAP contributions)
   are timed separately: they are asked for only when a score needs explaining.
2. Full scoring, offline: advance the in-memory feature store, read the customer's and
   the terminal's aggregates, compute the feature row, score it, record the transaction.
3. In the payment path: `RiskService.assess` as `payments/flows.py` calls it — the SQL
   feature store (two reads, two writes), the model with its reasons (pred_contrib),
   lists and rules — on SQLite, or on PostgreSQL with `--database-url` (goal: p99 ≤ 2 ms
   on SQLite). The live store is warmed with the same simulated days through the live
   code path (`risk/parity.py`), then copied into the database; each timed payment runs
   in its own transaction, as in the payment path.

The store is first warmed with the preceding simulated days (the handbook's population
of 5,000 customers and 10,000 terminals), labels revealed after the delay.

Run: `.venv/bin/python bench/risk.py [--days 30] [--model DIR] [--database-url URL]`.
Prints figures; asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import orjson  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from smartpay.config import Settings  # noqa: E402
from smartpay.kit.db import Database, metadata  # noqa: E402
from smartpay.models_registry import import_all_models  # noqa: E402
from smartpay.risk.features import (  # noqa: E402
    SECONDS_PER_DAY,
    InMemoryFeatureStore,
    compute_features,
    replay_features,
)
from smartpay.risk.live import (  # noqa: E402
    MemoryLiveFeatureStore,
    SqlLiveFeatureStore,
    entity_key,
    terminal_day_range,
)
from smartpay.risk.model import SHIPPED_MODEL_DIR, RiskModel  # noqa: E402
from smartpay.risk.models import (  # noqa: E402
    risk_feature_state,
    risk_terminal_days,
    risk_terminal_first_seen,
)
from smartpay.risk.parity import replay_live, signals_of_transaction  # noqa: E402
from smartpay.risk.service import RiskService, model_row  # noqa: E402
from smartpay.risk.simulator import SimulationConfig, simulate  # noqa: E402
from smartpay.risk.transactions import Transaction, TransactionTable  # noqa: E402


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def report(name: str, seconds: list[float]) -> None:
    micros = [value * 1e6 for value in seconds]
    print(
        f"{name:<44} n={len(micros):>6}  median {statistics.median(micros):8.1f} µs  "
        f"p99 {percentile(micros, 99):8.1f} µs  max {max(micros):9.1f} µs"
    )


def timed(calls: list[Callable[[], object]]) -> list[float]:
    durations = []
    clock = time.perf_counter
    for call in calls:
        started = clock()
        call()
        durations.append(clock() - started)
    return durations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30, help="simulated days (last one timed)")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--model", type=Path, default=SHIPPED_MODEL_DIR)
    parser.add_argument("--limit", type=int, default=10_000, help="transactions timed at most")
    parser.add_argument(
        "--path-limit", type=int, default=2_000, help="payments timed in the payment path"
    )
    parser.add_argument(
        "--database-url",
        help="time the payment path on this PostgreSQL (a fresh database is made next to it)",
    )
    args = parser.parse_args()

    model = RiskModel.load(args.model)
    # Other work on the machine shows up in p99: say how busy it was.
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"model {model.metadata.version}, {model.booster.num_trees()} trees")
    simulation = simulate(SimulationConfig(seed=args.seed, n_days=args.days))
    table = simulation.table
    last_day_start = table.timestamps[0] + (args.days - 1) * SECONDS_PER_DAY
    split = int(np.searchsorted(table.timestamps, last_day_start))
    store = InMemoryFeatureStore()
    warm = table.take(np.arange(split, dtype=np.int64))
    started = time.perf_counter()
    replay_features(warm, wanted=np.zeros(len(warm), dtype=bool), store=store)
    print(
        f"warmed the store with {len(warm):,} transactions in "
        f"{time.perf_counter() - started:.1f} s; timing {min(args.limit, len(table) - split):,}"
    )
    transactions = [table.row(index) for index in range(split, len(table))][: args.limit]

    # 1. Model alone, on the feature rows these transactions will have.
    probe = InMemoryFeatureStore()
    rows = replay_features(table, store=probe)[split:][: args.limit]
    row_list = [np.ascontiguousarray(row) for row in rows]
    for row in row_list[:200]:  # warm caches and LightGBM's first-call setup
        model.raw_score(row)
    gc.disable()
    report(
        "model: booster raw score (one row)", timed([partial(model.raw_score, r) for r in row_list])
    )
    report(
        "model: calibrated score, no reasons",
        timed([partial(model.score, r, reason_count=0) for r in row_list]),
    )
    report(
        "model: SHAP reasons only (top 3)",
        timed([partial(model.reasons, r) for r in row_list[:2000]]),
    )

    # 2. Full scoring through the warmed store.
    def score(transaction: Transaction) -> int:
        now = transaction.timestamp
        store.advance_to(now)
        row = compute_features(
            transaction,
            store.customer(transaction.customer_id, now),
            store.terminal(transaction.terminal_id, now),
        )
        risk = model.score(row, reason_count=0)
        store.record_transaction(transaction)
        return risk.score

    report(
        "full: store + features + model + record",
        timed([partial(score, t) for t in transactions]),
    )
    gc.enable()

    # 3. In the payment path.
    print(f"in path: {args.database_url or 'SQLite (a temporary file)'}")
    asyncio.run(in_path(table, split, model, args))


async def _postgres_database(base_url: str) -> str:
    """A fresh database next to `base_url`'s, so the bench never touches real data."""
    import asyncpg
    from sqlalchemy.engine import make_url

    url = make_url(base_url)
    name = f"smartpay_bench_risk_{secrets.token_hex(4)}"
    connection = await asyncpg.connect(
        host=url.host or "127.0.0.1", port=url.port or 5432, user=url.username,
        password=url.password, database=url.database or "postgres",
    )  # fmt: skip
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return url.set(database=name).render_as_string(hide_password=False)


async def _drop_postgres_database(url_text: str, base_url: str) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    url, base = make_url(url_text), make_url(base_url)
    connection = await asyncpg.connect(
        host=base.host or "127.0.0.1", port=base.port or 5432, user=base.username,
        password=base.password, database=base.database or "postgres",
    )  # fmt: skip
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
    finally:
        await connection.close()


async def _copy_into_database(database: Database, store: MemoryLiveFeatureStore) -> None:
    """The warmed live state as the SQL store keeps it (day counters on shard 0, and the
    merchants' first-seen times)."""
    states = [
        {"key": key, "state": orjson.loads(raw), "updated_at": 0.0}
        for key, raw in store.states.items()
    ]
    days = [
        {"merchant_id": merchant, "day": day, "shard": 0, "transactions": count, "frauds": frauds}
        for merchant, by_day in store.days.items()
        for day, (count, frauds) in by_day.items()
    ]
    first_seen = [
        {"merchant_id": merchant, "first_seen": seen_at}
        for merchant, seen_at in store.first_seen.items()
    ]
    chunk = 5_000
    async with database.transaction() as session:
        for rows, table in (
            (states, risk_feature_state),
            (days, risk_terminal_days),
            (first_seen, risk_terminal_first_seen),
        ):
            for start in range(0, len(rows), chunk):
                await session.execute(sa.insert(table), rows[start : start + chunk])


async def in_path(
    table: TransactionTable, split: int, model: RiskModel, args: argparse.Namespace
) -> None:
    store = MemoryLiveFeatureStore()
    warm = table.take(np.arange(split, dtype=np.int64))
    started = time.perf_counter()
    replay_live(warm, store)
    print(f"warmed the live store in {time.perf_counter() - started:.1f} s")
    with tempfile.TemporaryDirectory() as directory:
        url = (
            await _postgres_database(args.database_url)
            if args.database_url
            else f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}"
        )
        import_all_models()
        database = Database(url)
        try:
            async with database.engine.begin() as connection:
                await connection.run_sync(metadata.create_all)
            await _copy_into_database(database, store)
            settings = Settings(data_dir=Path(directory), database_url=url)
            service = RiskService(settings, SqlLiveFeatureStore(), model)
            await _time_assess(database, service, table, split, args.path_limit)
        finally:
            await database.dispose()
            if args.database_url:
                await _drop_postgres_database(url, args.database_url)


async def _time_assess(
    database: Database, service: RiskService, table: TransactionTable, split: int, limit: int
) -> None:
    indexes = range(split, min(len(table), split + limit))
    signals = [signals_of_transaction(table, index) for index in indexes]
    for warmup in signals[:50]:  # connections, statement caches, the model's predictors
        async with database.transaction() as session:
            await service.assess(session, warmup, record=False)
    in_assess, whole = [], []
    clock = time.perf_counter
    gc.disable()
    for payment in signals:
        began = clock()
        async with database.transaction() as session:
            started = clock()
            await service.assess(session, payment)
            in_assess.append(clock() - started)
        whole.append(clock() - began)
    gc.enable()
    report("in path: RiskService.assess (SQL store)", in_assess)
    report("in path: assess + BEGIN/COMMIT", whole)
    explain = list(signals[: min(len(signals), 2000)])
    rows = []
    async with database.transaction() as session:
        for payment in explain:
            keys = {
                kind: entity_key(kind, value, payment.currency)
                for kind, value in payment.entities().items()
            }
            days = terminal_day_range(payment.timestamp, service.label_delay_seconds)
            snapshot = await service.store.read(
                session, payment.merchant_id, list(keys.values()), days, for_update=False
            )
            rows.append(model_row(payment, snapshot, keys, service.label_delay_seconds))
    reason_count = service.settings.risk_reason_count
    report(
        f"in path: of which reasons (pred_contrib, top {reason_count})",
        timed([partial(service.model.reasons, row, reason_count) for row in rows]),
    )


if __name__ == "__main__":
    main()
