"""DecisionService against a real database: concurrent voting under deadlines, quorum
failure, abstentions recorded, idempotent re-runs and actions, ground truth, learnt
weights, and the payment path's grey zone."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from smartpay.config import Settings
from smartpay.decisions import service
from smartpay.decisions.kinds import DecisionKind, Level
from smartpay.decisions.models import DecisionMode, decision_actions, decision_votes
from smartpay.decisions.service import DecisionService
from smartpay.decisions.voters import DecisionRequest
from smartpay.events.models import events
from smartpay.kit.db import Database
from tests.decisions.fakes import BrokenVoter, FixedLocalVoter, SlowVoter

MERCHANT = "acct_decisions_test"


def request(subject: str = "re_123", **changes: object) -> DecisionRequest:
    values: dict[str, object] = {
        "merchant_id": MERCHANT,
        "kind": DecisionKind.REFUND_REQUEST,
        "subject_id": subject,
        "context": {"reason": "item never arrived"},
        "amount": 2500,
        "currency": "usd",
    }
    values.update(changes)
    return DecisionRequest(**values)  # type: ignore[arg-type]


def approving() -> list[FixedLocalVoter]:
    return [
        FixedLocalVoter("risk_model", Level.FAVOURABLE, 0.02),
        FixedLocalVoter("anomaly_forest", Level.FAVOURABLE, 0.03),
    ]


@pytest.mark.settings(decisions_voter_timeout_seconds=0.3)
async def test_voters_run_concurrently_and_a_hanging_one_times_out(
    settings: Settings, database: Database
) -> None:
    log: list[str] = []
    remote = [
        SlowVoter("one", 0.1, log=log),
        SlowVoter("two", 0.2, log=log),
        SlowVoter("hangs", None, log=log),
    ]
    decisions = DecisionService(settings, database, local_voters=[], remote_voters=remote)
    async with database.transaction() as session:
        record = await decisions.decide(session, request())
    # All three were asked before the first answered: concurrent, not one after another.
    assert log[:3] == ["start one", "start two", "start hangs"]
    assert log[3:] == ["end one", "end two"]
    statuses = {vote["voter"]: vote["status"] for vote in record.body["votes"]}
    assert statuses == {"one": "voted", "two": "voted", "hangs": "timeout"}
    # The hanging voter was waited for up to its deadline (a lower bound, not a timing goal).
    assert record.body["latency_ms"] >= 300
    assert record.outcome == "approve"
    assert record.body["abstentions"] == 1


@pytest.mark.settings(decisions_voter_timeout_seconds=0.2, decisions_quorum=2)
async def test_quorum_failure_goes_to_review(settings: Settings, database: Database) -> None:
    remote = [SlowVoter("hangs", None), BrokenVoter()]
    local = [FixedLocalVoter("risk_model", Level.FAVOURABLE, 0.01)]
    decisions = DecisionService(settings, database, local_voters=local, remote_voters=remote)
    async with database.transaction() as session:
        record = await decisions.decide(session, request())
    assert record.level is Level.REVIEW
    assert record.body["escalated"] is True
    assert "quorum not met (1 of 2" in record.body["explanation"]
    statuses = sorted(vote["status"] for vote in record.body["votes"])
    assert statuses == ["failed", "timeout", "voted"]


async def test_every_llm_down_still_decides_from_local_voters(
    settings: Settings, database: Database
) -> None:
    decisions = DecisionService(
        settings, database, local_voters=approving(), remote_voters=[BrokenVoter()]
    )
    async with database.transaction() as session:
        record = await decisions.decide(session, request())
    assert record.outcome == "approve"
    assert record.body["valid_votes"] == 2
    assert record.body["abstentions"] == 1


async def test_rerunning_a_decision_never_votes_or_acts_twice(
    settings: Settings, database: Database
) -> None:
    local = [
        FixedLocalVoter("risk_model", Level.UNFAVOURABLE, 0.9),
        FixedLocalVoter("anomaly_forest", Level.UNFAVOURABLE, 0.8),
    ]
    decisions = DecisionService(settings, database, local_voters=local, remote_voters=[])
    async with database.transaction() as session:
        first = await decisions.decide(session, request())
    async with database.transaction() as session:
        again = await decisions.decide(session, request())
    assert first.outcome == "deny"
    assert [a["action"] for a in first.body["actions"]] == ["cancel", "notify"]
    assert again.replayed and again.id == first.id
    assert local[0].calls == 1  # not asked again
    async with database.transaction() as session:
        actions = (await session.execute(sa.select(decision_actions))).all()
        notifications = (
            await session.execute(sa.select(events).where(events.c.type == "decision.deny"))
        ).all()
    assert len(actions) == 2
    assert len(notifications) == 1
    assert again.instruction == "cancel"


async def test_a_new_decision_on_the_same_subject_does_not_act_twice(
    settings: Settings, database: Database
) -> None:
    local = [
        FixedLocalVoter("a", Level.UNFAVOURABLE, 0.9),
        FixedLocalVoter("b", Level.UNFAVOURABLE, 0.9),
    ]
    decisions = DecisionService(settings, database, local_voters=local, remote_voters=[])
    async with database.transaction() as session:
        first = await decisions.decide(session, request(request_key="first"))
        second = await decisions.decide(session, request(request_key="second"))
    assert first.id != second.id
    assert [a["replayed"] for a in first.actions] == [False, False]
    assert [a["replayed"] for a in second.actions] == [True, True]
    async with database.transaction() as session:
        count = (await session.execute(sa.select(sa.func.count()).select_from(events))).scalar()
    assert count == 1


async def test_votes_are_recorded_with_abstentions(settings: Settings, database: Database) -> None:
    decisions = DecisionService(
        settings, database, local_voters=approving(), remote_voters=[BrokenVoter()]
    )
    async with database.transaction() as session:
        record = await decisions.decide(session, request())
    async with database.transaction() as session:
        rows = (
            await session.execute(
                sa.select(decision_votes).where(decision_votes.c.decision_id == record.id)
            )
        ).all()
        body = await service.load(session, MERCHANT, record.id)
    assert {row.voter: row.status for row in rows} == {
        "risk_model": "voted",
        "anomaly_forest": "voted",
        "broken": "failed",
    }
    assert body["strategy"] == "hybrid"
    assert body["cost_usd"] == 0.0
    assert body["latency_ms"] >= 0


async def test_ground_truth_gives_accuracy_and_learnt_weights(
    settings: Settings, database: Database
) -> None:
    right = FixedLocalVoter("right", Level.UNFAVOURABLE, 0.9)
    wrong = FixedLocalVoter("wrong", Level.FAVOURABLE, 0.4)
    decisions = DecisionService(settings, database, local_voters=[right, wrong], remote_voters=[])
    async with database.transaction() as session:
        for index in range(5):
            record = await decisions.decide(session, request(f"re_{index}"))
            await service.record_ground_truth(session, MERCHANT, record.id, "deny", "chargeback")
        stats = {s.voter: s for s in await service.voter_stats(session, MERCHANT)}
        weights = await service.learn_policy_weights(session, MERCHANT)
        policy = await decisions.policy(session, MERCHANT)
    assert stats["right"].record.accuracy == 1.0
    assert stats["wrong"].record.accuracy == 0.0
    assert weights["right"] > weights["wrong"]
    assert policy.weights == weights and policy.weights_source == "learnt"


async def test_an_unknown_ground_truth_label_is_refused(
    settings: Settings, database: Database
) -> None:
    from smartpay.errors import InvalidRequest

    decisions = DecisionService(settings, database, local_voters=approving(), remote_voters=[])
    async with database.transaction() as session:
        record = await decisions.decide(session, request())
        with pytest.raises(InvalidRequest):
            await service.record_ground_truth(session, MERCHANT, record.id, "decline", "x")


@pytest.mark.settings(decisions_grey_zone_low=600, decisions_grey_zone_high=900)
async def test_payment_grey_zone(settings: Settings, database: Database) -> None:
    decisions = DecisionService(settings, database, local_voters=approving(), remote_voters=[])

    def payment(score: int) -> DecisionRequest:
        return decisions.payment_request(
            merchant_id=MERCHANT,
            payment_intent_id=f"pi_{score}",
            score=score,
            fraud_probability=0.01,
            amount=1000,
            currency="usd",
        )

    async with database.transaction() as session:
        assert await decisions.decide_payment(session, payment(599)) is None
        assert await decisions.decide_payment(session, payment(901)) is None
        record = await decisions.decide_payment(session, payment(750))
    assert record is not None
    assert record.kind is DecisionKind.PAYMENT_RISK
    assert record.instruction == "continue"


@pytest.mark.settings(decisions_payment_llm_mode="advisory", decisions_voter_timeout_seconds=0.5)
async def test_advisory_mode_decides_without_llms_then_records_them(
    settings: Settings, database: Database
) -> None:
    remote = SlowVoter("llm", 0.01, level=Level.UNFAVOURABLE, risk=0.9)
    decisions = DecisionService(
        settings, database, local_voters=approving(), remote_voters=[remote]
    )
    payment = decisions.payment_request(
        merchant_id=MERCHANT,
        payment_intent_id="pi_advisory",
        score=800,
        fraud_probability=0.02,
        amount=1000,
        currency="usd",
    )
    async with database.transaction() as session:
        deciding = await decisions.decide_payment(session, payment)
    assert deciding is not None
    assert [vote["voter"] for vote in deciding.body["votes"]] == ["risk_model", "anomaly_forest"]
    advisory = await decisions.advise(payment)
    assert advisory is not None
    assert advisory.body["mode"] == DecisionMode.ADVISORY.value
    assert advisory.body["actions"] == []  # advice acts on nothing
    assert "llm" in [vote["voter"] for vote in advisory.body["votes"]]
