"""The SQL store keeps exactly what the in-memory one does (same observations, same
counts), and the simulator runs the live Router over the in-memory store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smartpay.kit.db import Database
from smartpay.routing import repository
from smartpay.routing.bandit import Observation, OutcomeKind
from smartpay.routing.breaker import BreakerPolicy, BreakerState
from smartpay.routing.simulate import RouterPolicy, simulate
from smartpay.routing.store import MemoryRoutingStore, SqlRoutingStore

SEGMENT = "visa:DE:medium:eur"
POLICY = BreakerPolicy(window_seconds=60, min_calls=4, cooldown_seconds=10)


async def test_sql_store_matches_memory_store(database: Database) -> None:
    memory = MemoryRoutingStore(100.0, POLICY)
    sql = SqlRoutingStore(100.0, POLICY)
    kinds = [OutcomeKind.APPROVED, OutcomeKind.SOFT_DECLINE, OutcomeKind.CARD_DECLINE] * 5
    kinds += [OutcomeKind.TECHNICAL] * 12 + [OutcomeKind.APPROVED] * 3
    seen: list[BreakerState] = []
    for index, kind in enumerate(kinds):
        now = 1_000.0 + index * 7.0
        observation = Observation(kind)
        expected = memory.record_now("p", SEGMENT, observation, 50.0 + index, now)
        async with database.transaction() as session:
            got = await sql.record(session, "p", SEGMENT, observation, 50.0 + index, now)
        assert [(t.previous, t.state) for t in got] == [(t.previous, t.state) for t in expected]
        seen += [t.state for t in got]
    async with database.transaction() as session:
        snapshot = await sql.load(session, ["p"], SEGMENT)
        breakers = await repository.load_breakers(session, ["p"])
    assert set(snapshot.stats) == set(memory.stats)
    for key, arm in memory.stats.items():
        stored = snapshot.stats[key]
        assert stored.successes == pytest.approx(arm.successes, rel=1e-9)
        assert stored.failures == pytest.approx(arm.failures, rel=1e-9)
        assert stored.latency_ms == pytest.approx(arm.latency_ms, rel=1e-9)
        assert stored.updated_at == arm.updated_at
    assert breakers["p"] == memory.breakers["p"]
    # The run went through every state, and both stores agreed at each step.
    assert seen[:2] == [BreakerState.OPEN, BreakerState.HALF_OPEN]
    assert seen[-1] is BreakerState.CLOSED


def test_simulator_uses_the_live_router_and_reports_every_policy() -> None:
    result = simulate(3_000, seed=1)
    summary = result.summary()
    assert set(summary) == {
        "fixed_priority",
        "round_robin",
        "cheapest_first",
        "smartpay",
        "sliding_window",
        "oracle",
    }
    assert summary["oracle"]["regret_vs_oracle"] == 0
    for row in summary.values():
        assert 0.5 < row["approval_rate"] < 1 and row["fees"] > 0
    json.dumps(summary)
    again = simulate(3_000, seed=1).summary()
    assert again == summary  # seeded: the same run twice


def test_router_policy_is_the_live_router() -> None:
    from smartpay.routing.bandit import StrategyWeights, ThompsonStrategy
    from smartpay.routing.service import Router
    from smartpay.routing.simulate import world

    policy = RouterPolicy(
        "smartpay", world(), ThompsonStrategy(StrategyWeights()), POLICY, 3600.0, seed=1
    )
    assert type(policy.router) is Router
    assert type(policy.store) is MemoryRoutingStore


def test_cli_json_and_chart(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from smartpay.routing.cli import routing_app

    chart = tmp_path / "chart.svg"
    result = CliRunner().invoke(
        routing_app,
        ["simulate", "--payments", "2000", "--seed", "3", "--json", "--chart", str(chart)],
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(document["smartpay"]) == {"approval_rate", "fees", "regret_vs_oracle"}
    assert document["oracle"]["regret_vs_oracle"] == 0
    svg = chart.read_text()
    assert svg.startswith("<svg") and svg.count("<polyline") == len(document)
