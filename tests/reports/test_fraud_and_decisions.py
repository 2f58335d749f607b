"""The fraud and AI-decision sections over rows written straight into the risk engine's
and the decisions domain's tables: known scores, reviews, labels, decisions and votes,
and the figures they must give."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from smartpay.decisions.models import decision_votes, decisions
from smartpay.kit.db import Database
from smartpay.payments.models import payment_intents
from smartpay.risk.models import risk_labels, risk_reviews
from tests.conftest import Api

CREATED = 1_767_225_600


def _intent(
    merchant_id: str, index: int, status: str, risk: dict[str, Any] | None
) -> dict[str, Any]:
    return {
        "id": f"pi_risk{index:03d}_{merchant_id[-4:]}",
        "merchant_id": merchant_id,
        "amount": 1000,
        "currency": "usd",
        "status": status,
        "capture_method": "automatic",
        "metadata": {},
        "amount_capturable": 0,
        "amount_received": 0,
        "client_secret": "secret",
        "created": CREATED + index,
        "risk": risk,
    }


# (score, decision, intent status) of the merchant's payments.
ASSESSMENTS = [
    (40, "allow", "succeeded"),
    (120, "allow", "succeeded"),
    (150, "allow", "succeeded"),
    (480, "allow", "succeeded"),
    (650, "review", "requires_capture"),
    (720, "review", "succeeded"),
    (910, "block", "requires_payment_method"),
    (1000, "block", "requires_payment_method"),
]


async def _store(database: Database, api: Api) -> None:
    mine, other = api.keys.merchant_id, api.other.merchant_id
    intents = [
        _intent(mine, i, status, {"score": score, "decision": decision})
        for i, (score, decision, status) in enumerate(ASSESSMENTS)
    ]
    intents.append(_intent(mine, 50, "succeeded", None))  # not assessed
    intents.append(_intent(other, 60, "succeeded", {"score": 990, "decision": "block"}))
    ids = [row["id"] for row in intents]
    reviews = [
        {
            "id": f"rv_{n}",
            "merchant_id": mine,
            "payment_intent_id": ids[4 + n % 2],
            "status": status,
            "source": "rules",
            "reasons": [],
            "capture_on_approve": False,
            "created": CREATED + 10,
        }
        for n, status in enumerate(("open", "approved", "rejected"))
    ]
    labels = [
        {"payment_intent_id": ids[3], "merchant_id": mine, "is_fraud": True, "source": "dispute"},
        {"payment_intent_id": ids[5], "merchant_id": mine, "is_fraud": True, "source": "review"},
        {"payment_intent_id": ids[0], "merchant_id": mine, "is_fraud": False, "source": "review"},
    ]
    # Two decisions: the first unanimous and right, the second split and wrong.
    decision_rows = [
        _decision(mine, "dc_1", "approve", "approve"),
        _decision(mine, "dc_2", "review", "decline"),
        _decision(other, "dc_3", "decline", None),
    ]
    votes = [
        _vote(mine, "dc_1", "alpha", "approve"),
        _vote(mine, "dc_1", "beta", "approve"),
        _vote(mine, "dc_2", "alpha", "review"),
        _vote(mine, "dc_2", "beta", "decline"),
        _vote(mine, "dc_2", "gamma", None, status="timeout"),
        _vote(other, "dc_3", "alpha", "approve"),
    ]
    async with database.transaction() as session:
        await session.execute(sa.insert(payment_intents), intents)
        await session.execute(sa.insert(risk_reviews), reviews)
        await session.execute(
            sa.insert(risk_labels), [{**label, "created": CREATED} for label in labels]
        )
        await session.execute(sa.insert(decisions), decision_rows)
        await session.execute(sa.insert(decision_votes), votes)


def _decision(merchant_id: str, id_: str, outcome: str, truth: str | None) -> dict[str, Any]:
    return {
        "id": id_,
        "merchant_id": merchant_id,
        "kind": "payment_risk",
        "subject_id": f"pi_{id_}",
        "request_key": id_,
        "mode": "deciding",
        "outcome": outcome,
        "strategy": "majority",
        "risk": 0.5,
        "explanation": "test",
        "escalated": outcome == "review",
        "amount": 1000,
        "currency": "usd",
        "context": {},
        "valid_votes": 2,
        "abstentions": 0,
        "latency_ms": 100.0 if id_ == "dc_1" else 300.0,
        "cost_usd": 0.002,
        "ground_truth": truth,
        "created": CREATED,
    }


def _vote(
    merchant_id: str, decision_id: str, voter: str, decision: str | None, status: str = "voted"
) -> dict[str, Any]:
    return {
        "id": f"vt_{decision_id}_{voter}",
        "decision_id": decision_id,
        "merchant_id": merchant_id,
        "voter": voter,
        "model": f"{voter}-model",
        "status": status,
        "decision": decision,
        "confidence": 0.9,
        "risk": 0.5,
        "veto": False,
        "weight": 1.0,
        "rationale": "test",
        "latency_ms": 50.0,
        "cost_usd": 0.001,
        "created": CREATED,
    }


async def test_fraud_section(api: Api, database: Database) -> None:
    await _store(database, api)
    fraud = (await api.get("/v1/reports/fraud")).json()["fraud"]
    assert fraud["available"] is True
    assert (fraud["assessed"], fraud["allowed"], fraud["flagged"], fraud["blocked"]) == (8, 4, 2, 2)
    assert fraud["flagged_rate"] == 0.25 and fraud["blocked_rate"] == 0.25
    assert fraud["reviews"] == {"opened": 3, "open": 1, "approved": 1, "rejected": 1, "reviewed": 2}
    assert fraud["fraud_labelled"] == 2 and fraud["chargebacks"] == 1
    # Succeeded intents: five assessed plus the one not assessed.
    assert fraud["succeeded_payments"] == 6 and fraud["chargeback_rate"] == round(1 / 6, 4)
    assert fraud["score_distribution"] == [
        {"from": 0, "to": 99, "count": 1},
        {"from": 100, "to": 199, "count": 2},
        {"from": 400, "to": 499, "count": 1},
        {"from": 600, "to": 699, "count": 1},
        {"from": 700, "to": 799, "count": 1},
        {"from": 900, "to": 1000, "count": 2},  # 1000 is in the last bin
    ]
    later = await api.get("/v1/reports/fraud", params={"start": str(CREATED + 4)})
    assert later.json()["fraud"]["assessed"] == 4


async def test_decisions_section(api: Api, database: Database) -> None:
    await _store(database, api)
    section = (await api.get("/v1/reports/decisions")).json()["decisions"]
    assert section["available"] is True
    assert (section["decisions"], section["escalated"], section["unanimous"]) == (2, 1, 1)
    # Cast votes: 4 (gamma timed out); 3 matched their decision's outcome.
    assert section["agreement_rate"] == 0.75
    assert (section["labelled"], section["accuracy"]) == (2, 0.5)
    voters = {v["voter"]: v for v in section["voters"]}
    assert voters["alpha"]["agreement_rate"] == 1.0 and voters["alpha"]["accuracy"] == 0.5
    assert voters["beta"]["agreement_rate"] == 0.5 and voters["beta"]["accuracy"] == 1.0
    assert voters["gamma"]["abstained"] == 1 and voters["gamma"]["agreement_rate"] is None
    kinds = {(k["kind"], k["outcome"]): k for k in section["by_kind"]}
    assert kinds[("payment_risk", "review")]["mean_latency_ms"] == 300.0
    other = (await api.get("/v1/reports/decisions", key=api.other.secret_key)).json()
    assert other["decisions"]["decisions"] == 1 and other["decisions"]["labelled"] == 0
