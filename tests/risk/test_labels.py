"""Fraud labels feed the live counters, and a withdrawn label takes its count back."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from smartpay.kit.db import Database
from smartpay.risk.features import KNOWN_FRAUD_MEMORY_SECONDS
from smartpay.risk.live import EntityState, entity_key
from smartpay.risk.models import risk_feature_state, risk_terminal_days
from tests.api.helpers import pay
from tests.conftest import Api


def test_forgetting_a_fraud_restores_the_profile_and_the_fraud_count() -> None:
    start = 1_700_000_000.0
    state = EntityState.new(start)
    for amount in (10.0, 20.0, 30.0):
        state.record(start, amount, peer=None)
    before = state.to_json()
    state.record_fraud(start, 30.0)
    assert state.customer_aggregates(start + 60).known_fraud_count == 1
    state.forget_fraud(start, 30.0)
    after = state.to_json()
    assert after["known_frauds"][1:] == [0.0, 0.0, 0.0, 0.0]  # the bucket start stays
    assert {**after, "known_frauds": None} == {**before, "known_frauds": None}
    assert state.customer_aggregates(start + 60).known_fraud_count == 0


def test_forgetting_a_fraud_in_the_previous_bucket_and_never_below_zero() -> None:
    start = 1_700_000_000.0
    state = EntityState.new(start)
    state.record(start, 10.0, peer=None)
    state.record_fraud(start, 10.0)
    # A later fraud of another payment moves the first one into the previous bucket.
    later = start + KNOWN_FRAUD_MEMORY_SECONDS
    state.record(later, 12.0, peer=None)
    state.record_fraud(later, 12.0)
    assert state.known_frauds[1:] == [1.0, 1.0, 1.0, 1.0]  # current and previous bucket
    state.forget_fraud(start, 10.0)
    assert state.known_frauds[3] == 0.0  # the previous bucket's count
    assert state.customer_aggregates(later).known_fraud_count == 1
    # Withdrawing a label the counter no longer holds changes no count.
    state.forget_fraud(start, 10.0)
    assert state.known_frauds[1] == 1.0 and state.known_frauds[3] == 0.0
    assert state.customer_aggregates(later + 1).known_fraud_count == 1


async def _card_state(database: Database, fingerprint: str) -> dict[str, Any]:
    key = entity_key("card", fingerprint, "usd")
    async with database.transaction() as session:
        query = sa.select(risk_feature_state.c.state).where(risk_feature_state.c.key == key)
        state = (await session.execute(query)).scalar_one()
    return dict(state)


async def _merchant_frauds(database: Database, merchant_id: str) -> int:
    async with database.transaction() as session:
        query = sa.select(sa.func.coalesce(sa.func.sum(risk_terminal_days.c.frauds), 0)).where(
            risk_terminal_days.c.merchant_id == merchant_id
        )
        return int((await session.execute(query)).scalar_one())


async def _label(api: Api, intent_id: str, label: str) -> None:
    response = await api.post(f"/v1/payment_intents/{intent_id}/fraud_feedback", {"label": label})
    assert response.status_code == 200, response.text


async def test_fraud_then_safe_undoes_the_counters(api: Api, database: Database) -> None:
    intent = (await pay(api, 2000)).json()
    method = (await api.get(f"/v1/payment_methods/{intent['payment_method']}")).json()
    fingerprint = method["card"]["fingerprint"]
    merchant_id = api.keys.merchant_id
    unlabelled = await _card_state(database, fingerprint)
    assert await _merchant_frauds(database, merchant_id) == 0

    await _label(api, intent["id"], "fraudulent")
    fraud = await _card_state(database, fingerprint)
    assert fraud["known_frauds"][1] == 1.0
    assert fraud["profile"][0] == unlabelled["profile"][0] - 1
    assert await _merchant_frauds(database, merchant_id) == 1

    # The same label again changes nothing; fraud → safe takes the fraud back out.
    await _label(api, intent["id"], "fraudulent")
    assert await _merchant_frauds(database, merchant_id) == 1
    await _label(api, intent["id"], "safe")
    safe = await _card_state(database, fingerprint)
    assert safe["known_frauds"][1] == 0.0
    assert safe["profile"] == pytest.approx(unlabelled["profile"])
    assert await _merchant_frauds(database, merchant_id) == 0
    await _label(api, intent["id"], "safe")
    assert await _merchant_frauds(database, merchant_id) == 0

    # Fraud once more: counted once more, not twice.
    await _label(api, intent["id"], "fraudulent")
    assert (await _card_state(database, fingerprint))["known_frauds"][1] == 1.0
    assert await _merchant_frauds(database, merchant_id) == 1


async def test_a_rejected_review_then_safe_feedback_is_not_a_fraud(
    api: Api, database: Database
) -> None:
    rule = await api.post(
        "/v1/risk/rules",
        {
            "action": "review",
            "conditions[0][fact]": "score",
            "conditions[0][operator]": "gte",
            "conditions[0][value]": "0",
        },
    )
    assert rule.status_code == 200, rule.text
    intent = (await pay(api, 2000)).json()
    rejected = await api.post(f"/v1/reviews/{intent['review']}/reject")
    assert rejected.status_code == 200, rejected.text
    assert await _merchant_frauds(database, api.keys.merchant_id) == 1
    await _label(api, intent["id"], "safe")
    assert await _merchant_frauds(database, api.keys.merchant_id) == 0
