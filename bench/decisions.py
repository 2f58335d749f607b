"""Benchmark: one consensus decision with the three local voters, in process.

1. Voting and combining (goal: p99 ≤ 5 ms): the risk model's voter (scoring the feature
   row with the shipped booster), the rules voter (the default rules) and the Isolation
   Forest voter, run by ``DecisionService.vote``, then the hybrid strategy — over feature
   rows of simulated payments (the risk simulator, seed 11, a tenth of the handbook's
   population).
2. The same decision recorded in a SQLite database (``DecisionService.decide``: votes,
   strategy, the decision and vote rows, the action rows), one transaction each.
3. Concurrency: three remote voters answering in 1 s and 2 s and one that hangs, under a
   3 s deadline: the wall time of the decision (about 3 s, not 6).

Run: `.venv/bin/python bench/decisions.py [--decisions 5000]`. Prints figures only.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

from smartpay.config import Settings
from smartpay.decisions.kinds import DecisionKind, KindSpec, Level
from smartpay.decisions.models import VoteStatus
from smartpay.decisions.service import DecisionService, default_local_voters
from smartpay.decisions.strategies import combine
from smartpay.decisions.voters import DecisionRequest, Vote
from smartpay.kit.db import Database, metadata
from smartpay.models_registry import import_all_models
from smartpay.risk.features import replay_features
from smartpay.risk.simulator import SimulationConfig, simulate


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def requests(count: int) -> list[DecisionRequest]:
    config = SimulationConfig(
        seed=11, n_customers=500, n_terminals=1_000, n_days=45, start_date=date(2018, 4, 1)
    )
    table = simulate(config).table
    wanted = np.zeros(len(table), dtype=bool)
    wanted[-count:] = True
    rows = replay_features(table, wanted)
    amounts = table.amounts_cents[wanted]
    return [
        DecisionRequest(
            merchant_id="acct_bench",
            kind=DecisionKind.PAYMENT_RISK,
            subject_id=f"pi_{index}",
            amount=int(amounts[index]),
            currency="usd",
            features=rows[index],
        )
        for index in range(len(rows))
    ]


async def in_process(service: DecisionService, batch: list[DecisionRequest]) -> list[float]:
    timings = []
    policy = service.default_policy()
    for request in batch:
        started = time.perf_counter()
        ballot = await service.vote(request)
        combine(policy.strategy, ballot.votes, service.params(policy, "usd"), request.amount)
        timings.append((time.perf_counter() - started) * 1e6)
    return timings


async def recorded(service: DecisionService, batch: list[DecisionRequest]) -> list[float]:
    assert service.database is not None
    timings = []
    for request in batch:
        started = time.perf_counter()
        async with service.database.transaction() as session:
            await service.decide(session, request)
        timings.append((time.perf_counter() - started) * 1e6)
    return timings


class Sleeper:
    model = "bench"

    def __init__(self, name: str, seconds: float | None) -> None:
        self.name, self.seconds = name, seconds

    async def vote(self, request: DecisionRequest, spec: KindSpec) -> Vote:
        await asyncio.sleep(self.seconds if self.seconds is not None else 3600)
        return Vote(self.name, self.model, VoteStatus.VOTED, spec.label(Level.FAVOURABLE), 0.9, 0.1)


def report(name: str, timings: list[float]) -> None:
    print(
        f"{name}: {len(timings)} decisions  p50 {statistics.median(timings) / 1000:.3f} ms  "
        f"p99 {percentile(timings, 0.99) / 1000:.3f} ms"
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--decisions", type=int, default=5_000)
    args = parser.parse_args()
    batch = requests(args.decisions)
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}"
        settings = Settings(data_dir=Path(directory), database_url=url)
        database = Database(url)
        import_all_models()
        async with database.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        service = DecisionService(
            settings, database, local_voters=default_local_voters(), remote_voters=[]
        )
        await in_process(service, batch[:200])  # warm-up: per-thread predictors, caches
        report("vote + hybrid strategy (3 local voters)", await in_process(service, batch))
        report("decide, recorded in SQLite", await recorded(service, batch[: len(batch) // 5]))
        slow = DecisionService(
            settings.model_copy(update={"decisions_voter_timeout_seconds": 3.0}),
            database,
            local_voters=service.local_voters,
            remote_voters=[Sleeper("one_s", 1.0), Sleeper("two_s", 2.0), Sleeper("hangs", None)],
        )
        started = time.perf_counter()
        ballot = await slow.vote(batch[0])
        statuses = ", ".join(f"{vote.voter} {vote.status.value}" for vote in ballot.votes)
        print(f"1 s + 2 s + hanging voter, 3 s deadline: {time.perf_counter() - started:.2f} s")
        print(f"  ({statuses})")
        await database.dispose()


if __name__ == "__main__":
    asyncio.run(main())
