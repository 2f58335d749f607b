"""Technical failures at the processor: failover, unknown outcomes, the janitor, and
Idempotency-Keys that never get stuck."""

import json
import time

import pytest

from smartpay.dependencies import WriteContext
from smartpay.events.service import EventBatch
from smartpay.kit.idempotency import request_fingerprint
from smartpay.merchants.models import KeyKind
from smartpay.merchants.service import MerchantContext
from smartpay.payments.flows import PaymentFlows
from smartpay.payments.schemas import PaymentIntentConfirm
from smartpay.payments.service import get_intent
from tests.api.helpers import card, pay
from tests.conftest import Api

DOWN_THEN_UP = json.dumps({"down": {"failure_rate": 1.0}, "sandbox": {}})
ALL_DOWN = json.dumps({"down": {"failure_rate": 1.0}})
TIMES_OUT = json.dumps({"slow": {"timeout_rate": 1.0}})


def _flows(api: Api) -> PaymentFlows:
    return api.app.state.payment_flows  # type: ignore[attr-defined,no-any-return]


@pytest.mark.settings(processors="down,sandbox", sandbox_profiles=DOWN_THEN_UP)
async def test_fails_over_when_a_processor_certainly_did_nothing(api: Api) -> None:
    response = await pay(api)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "succeeded"
    charge = (await api.get(f"/v1/charges/{response.json()['latest_charge']}")).json()
    assert charge["captured"] is True


@pytest.mark.settings(processors="down", sandbox_profiles=ALL_DOWN)
async def test_all_processors_down_is_502_and_the_intent_can_be_confirmed_again(api: Api) -> None:
    headers = {"Idempotency-Key": "down-1"}
    method = await card(api)
    data = {"amount": "900", "currency": "usd", "payment_method": method["id"], "confirm": "true"}
    first = await api.post("/v1/payment_intents", data, headers=headers)
    assert first.status_code == 502
    intent = first.json()["error"]["payment_intent"]
    assert intent["status"] == "requires_confirmation"
    replay = await api.post("/v1/payment_intents", data, headers=headers)
    assert replay.status_code == 502 and replay.headers["Idempotent-Replayed"] == "true"
    assert len((await api.get("/v1/payment_intents")).json()["data"]) == 1


@pytest.mark.settings(processors="slow", sandbox_profiles=TIMES_OUT)
async def test_timeout_leaves_processing_until_the_janitor_asks_the_processor(api: Api) -> None:
    headers = {"Idempotency-Key": "slow-1"}
    method = await card(api)
    data = {"amount": "1200", "currency": "usd", "payment_method": method["id"], "confirm": "true"}
    response = await api.post("/v1/payment_intents", data, headers=headers)
    assert response.status_code == 200
    intent = response.json()
    assert intent["status"] == "processing"  # unknown: recorded as such, never guessed
    resolved = await _flows(api).resolve_open_attempts()
    assert resolved == 1
    after = (await api.get(f"/v1/payment_intents/{intent['id']}")).json()
    assert after["status"] == "succeeded" and after["amount_received"] == 1200
    assert await _flows(api).resolve_open_attempts() == 0


@pytest.mark.settings(processors="slow", sandbox_profiles=TIMES_OUT)
async def test_capture_timeout_is_resolved_and_the_key_replays_the_result(api: Api) -> None:
    flows = _flows(api)
    response = await pay(api, capture_method="manual")
    intent = response.json()
    await flows.resolve_open_attempts()  # the authorization itself timed out too
    assert (await api.get(f"/v1/payment_intents/{intent['id']}")).json()["status"] == (
        "requires_capture"
    )
    headers = {"Idempotency-Key": "capture-slow"}
    capture = await api.post(f"/v1/payment_intents/{intent['id']}/capture", headers=headers)
    assert capture.status_code == 502
    assert capture.json()["error"]["code"] == "processor_outcome_unknown"
    await flows.resolve_open_attempts()
    replay = await api.post(f"/v1/payment_intents/{intent['id']}/capture", headers=headers)
    assert replay.status_code == 200, replay.text
    assert replay.json()["status"] == "succeeded"


async def test_janitor_fails_attempts_the_processor_never_saw(api: Api) -> None:
    """A request that died after recording its attempt, before the processor call."""
    flows = _flows(api)
    method = await card(api)
    intent = (
        await api.post(
            "/v1/payment_intents",
            {"amount": "100", "currency": "usd", "payment_method": method["id"]},
            headers={"Idempotency-Key": "died-1"},
        )
    ).json()
    ctx = _write_ctx(api, "died-2", f"/v1/payment_intents/{intent['id']}/confirm")
    async with flows.database.transaction() as session:
        assert await ctx.claim(session) is None
        row = await get_intent(session, api.keys.merchant_id, intent["id"], for_update=True)
        started = await flows._begin_authorization(
            session, ctx, row, PaymentIntentConfirm(), EventBatch(api.keys.merchant_id)
        )
    started.request.card.wipe()  # type: ignore[union-attr]  # ...and the process died here
    assert (await api.get(f"/v1/payment_intents/{intent['id']}")).json()["status"] == "processing"
    assert await flows.resolve_open_attempts() == 0  # too young: may still be in flight
    assert await flows.resolve_open_attempts(now=time.time() + 60) == 1
    after = (await api.get(f"/v1/payment_intents/{intent['id']}")).json()
    assert after["status"] == "requires_confirmation"
    retried = await api.post(
        f"/v1/payment_intents/{intent['id']}/confirm", headers={"Idempotency-Key": "died-2"}
    )
    assert retried.headers.get("Idempotent-Replayed") == "true"
    assert retried.json()["status"] == "requires_confirmation"
    confirmed = await api.post(f"/v1/payment_intents/{intent['id']}/confirm")
    assert confirmed.json()["status"] == "succeeded"


def _write_ctx(api: Api, key: str, path: str) -> WriteContext:
    return WriteContext(
        database=api.app.state.database,  # type: ignore[attr-defined]
        settings=api.app.state.settings,  # type: ignore[attr-defined]
        merchant=MerchantContext(api.keys.merchant_id, "Test merchant", KeyKind.SECRET),
        idempotency_key=key,
        fingerprint=request_fingerprint("POST", path, {}),
    )
