"""One routing decision in process: rules, Thompson sampling over three processors,
breakers, with warm in-memory statistics (the simulator's store). Prints p50/p99.

    .venv/bin/python bench/routing.py [--decisions 200000]
"""

from __future__ import annotations

import argparse
import random
import time

from smartpay.config import Settings
from smartpay.routing.bandit import Observation, OutcomeKind, PaymentContext, ThompsonStrategy
from smartpay.routing.breaker import BreakerPolicy
from smartpay.routing.schemas import RoutingConfig
from smartpay.routing.service import Router, weights_from
from smartpay.routing.store import MemoryRoutingStore


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--decisions", type=int, default=200_000)
    args = parser.parse_args()
    settings = Settings()
    weights = weights_from(settings)
    policy = BreakerPolicy()
    names = ["atlas", "bolt", "cedar"]
    router = Router(names, lambda n, a, c: a * 25 // 1000 + 25, ThompsonStrategy(weights), policy)
    store = MemoryRoutingStore(weights.half_life_seconds, policy)
    config = RoutingConfig.model_validate(
        {
            "rules": [
                {
                    "id": "amex",
                    "when": {"card_brand": ["amex"], "currency": ["eur"]},
                    "route": {"processor": "bolt"},
                },
                {
                    "id": "bins",
                    "when": {"bin_range": ["510000-559999"]},
                    "route": {"split": {"atlas": 50, "cedar": 50}},
                },
            ]
        }
    )
    rng = random.Random(1)
    contexts = [
        PaymentContext("acct_b", rng.randint(100, 50_000), cur, brand, country, band, "424242")
        for brand in ("visa", "mastercard", "amex")
        for country in ("US", "DE", "BR")
        for band in ("small", "medium", "large")
        for cur in ("usd", "eur")
    ]
    for index in range(50_000):  # warm statistics in every segment
        context = contexts[index % len(contexts)]
        kind = OutcomeKind.APPROVED if rng.random() < 0.9 else OutcomeKind.SOFT_DECLINE
        store.record_now(names[index % 3], context.segment, Observation(kind), 200.0, index)
    view = store.view()
    wall: list[int] = []
    cpu: list[int] = []
    now = 50_000.0
    for index in range(args.decisions):
        context = contexts[index % len(contexts)]
        started_cpu = time.thread_time_ns()
        started = time.perf_counter_ns()
        router.decide(context, config, view, view.breakers, rng, now)
        wall.append(time.perf_counter_ns() - started)
        cpu.append(time.thread_time_ns() - started_cpu)
    print(f"routing decisions: {args.decisions}")
    # Wall time includes the moments the OS ran something else (a shared machine);
    # thread CPU time is what the decision itself costs.
    for label, timings in (("wall", wall), ("cpu", cpu)):
        timings.sort()
        p50 = timings[len(timings) // 2] / 1000
        p99 = timings[int(len(timings) * 0.99)] / 1000
        print(f"{label} p50: {p50:.1f} us  p99: {p99:.1f} us")


if __name__ == "__main__":
    main()
