"""Benchmark: fraud scoring of one transaction, in process.

Two measurements, per call, over the last simulated day's transactions:

1. Model inference alone: the shipped booster on one NumPy feature row, plus the
   calibration to a 0–1000 score (goal: p99 ≤ 100 µs). Reasons (SHAP contributions)
   are timed separately: they are asked for only when a score needs explaining.
2. Full scoring: advance the in-memory feature store, read the customer's and the
   terminal's aggregates, compute the feature row, score it, record the transaction
   (goal: p99 ≤ 2 ms).

The store is first warmed with the preceding simulated days (the handbook's population
of 5,000 customers and 10,000 terminals), labels revealed after the delay.

Run: `.venv/bin/python bench/risk.py [--days 30] [--model DIR]`.
Prints figures; asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from smartpay.risk.features import (  # noqa: E402
    SECONDS_PER_DAY,
    InMemoryFeatureStore,
    compute_features,
    replay_features,
)
from smartpay.risk.model import SHIPPED_MODEL_DIR, RiskModel  # noqa: E402
from smartpay.risk.simulator import SimulationConfig, simulate  # noqa: E402
from smartpay.risk.transactions import Transaction  # noqa: E402


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


if __name__ == "__main__":
    main()
