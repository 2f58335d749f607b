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
from smartpay.routing.store import MemoryRoutingStore, Outcome, SqlRoutingStore

SEGMENT = "visa:DE:medium:eur"
POLICY = BreakerPolicy(window_seconds=60, min_calls=4, cooldown_seconds=10)


KINDS = [OutcomeKind.APPROVED, OutcomeKind.SOFT_DECLINE, OutcomeKind.CARD_DECLINE] * 5
KINDS += [OutcomeKind.TECHNICAL] * 12 + [OutcomeKind.APPROVED] * 3


def _outcome(index: int, kind: OutcomeKind) -> Outcome:
    return Outcome("acct_1", "p", SEGMENT, Observation(kind), 50.0 + index, 1_000.0 + index * 7.0)


async def _assert_same(
    database: Database, sql: SqlRoutingStore, memory: MemoryRoutingStore
) -> None:
    async with database.transaction() as session:
        snapshot = await sql.load(session, ["p"], SEGMENT)
        breakers = await repository.load_breakers(session, ["p"])
    assert set(snapshot.stats) == set(memory.stats)
    for key, arm in memory.stats.items():
        stored = snapshot.stats[key]
        assert stored.successes == pytest.approx(arm.successes, rel=1e-9)
        assert stored.failures == pytest.approx(arm.failures, rel=1e-9)
        assert stored.latency_ms == pytest.approx(arm.latency_ms, rel=1e-9)
        assert stored.latency_samples == arm.latency_samples
        assert stored.updated_at == arm.updated_at
    assert breakers["p"] == memory.breakers["p"]
    assert snapshot.breakers["p"] == memory.breakers["p"]


async def test_sql_store_written_at_each_outcome_matches_memory_store(database: Database) -> None:
    memory = MemoryRoutingStore(100.0, POLICY)
    sql = SqlRoutingStore(100.0, POLICY)
    seen: list[BreakerState] = []
    for index, kind in enumerate(KINDS):
        outcome = _outcome(index, kind)
        expected = memory.record_now(
            "p", SEGMENT, outcome.observation, outcome.latency_ms, outcome.at
        )
        assert await sql.record(outcome) == []  # changes are decided when written
        assert sql.flush_due()  # SMARTPAY_ROUTING_FLUSH_SECONDS=0: write at once
        async with database.transaction() as session:
            got = [change.transition for change in await sql.flush(session)]
        assert [(t.previous, t.state) for t in got] == [(t.previous, t.state) for t in expected]
        seen += [t.state for t in got]
    await _assert_same(database, sql, memory)
    # The run went through every state, and both stores agreed at each step.
    assert seen[:2] == [BreakerState.OPEN, BreakerState.HALF_OPEN]
    assert seen[-1] is BreakerState.CLOSED


async def test_sql_store_written_behind_in_one_flush_matches_memory_store(
    database: Database,
) -> None:
    """Thirty outcomes folded into one write give the same rows as thirty writes, and
    the breaker changes they caused come out of that one flush in order."""
    memory = MemoryRoutingStore(100.0, POLICY)
    sql = SqlRoutingStore(100.0, POLICY, flush_seconds=3600.0)
    expected: list[BreakerState] = []
    for index, kind in enumerate(KINDS[:20]):
        outcome = _outcome(index, kind)
        transitions = memory.record_now(
            "p", SEGMENT, outcome.observation, outcome.latency_ms, outcome.at
        )
        expected += [t.state for t in transitions]
        await sql.record(outcome)
    assert expected == [BreakerState.OPEN]
    # The outcome that opened the breaker here asks for a write at once.
    assert sql.flush_due()
    async with database.transaction() as session:
        changes = await sql.flush(session)
    assert [change.transition.state for change in changes] == expected
    assert {change.merchant_id for change in changes} == {"acct_1"}
    assert not sql.pending() and not sql.flush_due()
    await _assert_same(database, sql, memory)


async def test_sql_store_shows_its_own_waiting_outcomes_in_the_breakers(
    database: Database,
) -> None:
    """Between writes a decision in this process sees the shared breaker plus what this
    process has seen since, and an outcome that changes nothing is not written yet."""
    sql = SqlRoutingStore(100.0, POLICY, flush_seconds=3600.0)
    async with database.transaction() as session:
        await sql.load(session, ["p"], SEGMENT)
    await sql.record(_outcome(0, OutcomeKind.TECHNICAL))
    assert sql.pending() and not sql.flush_due()
    async with database.transaction() as session:
        snapshot = await sql.load(session, ["p"], SEGMENT)
        assert await repository.load_breakers(session, ["p"]) == {}
    assert snapshot.breakers["p"].failures == 1


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


def test_an_increment_applies_exactly_like_each_observation_in_turn() -> None:
    from smartpay.routing.bandit import ArmIncrement, ArmStats

    for prior in (ArmStats(updated_at=900.0), ArmStats(4.0, 2.0, 950.0, 80.0, 7)):
        one_by_one = ArmStats(
            prior.successes,
            prior.failures,
            prior.updated_at,
            prior.latency_ms,
            prior.latency_samples,
        )
        folded = ArmStats(
            prior.successes,
            prior.failures,
            prior.updated_at,
            prior.latency_ms,
            prior.latency_samples,
        )
        increment = ArmIncrement()
        for index in range(25):
            at, latency = 1_000.0 + index * 13.0, 30.0 + (index * 17) % 50
            success = None if index % 5 == 0 else index % 3 != 0
            if success is None:
                one_by_one.observe_latency(latency)
            else:
                one_by_one.observe(success, latency, at, 100.0)
            increment.add(success, latency, at, 100.0)
        increment.apply_to(folded, 100.0)
        assert folded.successes == pytest.approx(one_by_one.successes, rel=1e-12)
        assert folded.failures == pytest.approx(one_by_one.failures, rel=1e-12)
        assert folded.latency_ms == pytest.approx(one_by_one.latency_ms, rel=1e-12)
        assert folded.latency_samples == one_by_one.latency_samples
        assert folded.updated_at == one_by_one.updated_at
