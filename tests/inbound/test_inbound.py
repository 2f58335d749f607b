"""Inbound processor webhooks: POST /webhooks/{connector} verifies the processor's
signature, stores each provider event once, and the worker acts on it; the sandbox
sends its own signed webhook when a 3-D Secure challenge completes."""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
import pytest

from smartpay.connectors.sandbox import webhooks
from smartpay.inbound import repository
from smartpay.inbound.models import InboundStatus
from smartpay.inbound.tasks import MAX_PROCESSING_ATTEMPTS, process_pending
from smartpay.platform import Platform
from tests.api.helpers import THREE_D_SECURE_CARD, pay
from tests.conftest import Api


def _platform(api: Api) -> Platform:
    platform: Platform = api.app.state.platform  # type: ignore[attr-defined]
    return platform


def _delivery(
    api: Api,
    event_type: str = "dispute.created",
    data: dict[str, Any] | None = None,
    *,
    profile: str = "sandbox",
    secret: bytes | None = None,
    timestamp: int | None = None,
) -> tuple[bytes, dict[str, str]]:
    """A webhook body signed the way the sandbox profile signs its own."""
    settings = _platform(api).settings
    now = int(time.time()) if timestamp is None else timestamp
    body = webhooks.build_event(event_type, data or {"processor_reference": "sbch_x"}, now)
    key = secret or webhooks.profile_secret(settings.sandbox_webhook_secret, profile)
    return body, webhooks.sign(key, body, now)


async def _stored(api: Api, body: bytes, connector: str = "sandbox") -> Any:
    async with _platform(api).database.transaction() as session:
        return await repository.get(session, connector, orjson.loads(body)["id"])


async def _post(api: Api, body: bytes, headers: dict[str, str], connector: str = "sandbox") -> Any:
    return await api.client.post(f"/webhooks/{connector}", content=body, headers=headers)


async def _challenge(api: Api) -> tuple[dict[str, Any], str]:
    """A 3-D Secure payment waiting on its challenge, and the processor's reference."""
    intent = (await pay(api, number=THREE_D_SECURE_CARD)).json()
    assert intent["status"] == "requires_action"
    reference = intent["next_action"]["redirect_to_url"]["url"].rsplit("/", 1)[-1]
    return intent, reference


async def _intent(api: Api, intent_id: str) -> dict[str, Any]:
    response = await api.get(f"/v1/payment_intents/{intent_id}")
    return response.json()  # type: ignore[no-any-return]


async def test_valid_signature_is_stored_and_processed_once(api: Api) -> None:
    body, headers = _delivery(api, "dispute.created")
    response = await _post(api, body, headers)
    assert response.status_code == 200, response.text
    receipt = response.json()
    assert receipt["received"] is True and receipt["duplicate"] is False
    stored = await _stored(api, body)
    assert stored.id == receipt["id"] and stored.status == InboundStatus.RECEIVED
    assert stored.kind == "dispute" and stored.payload == orjson.loads(body)

    assert await process_pending(_platform(api)) == 1
    stored = await _stored(api, body)
    assert stored.status == InboundStatus.IGNORED
    assert stored.reason == "disputes are stored but not handled yet"
    assert await process_pending(_platform(api)) == 0


async def test_ach_returns_and_unknown_types_are_stored_as_ignored(api: Api) -> None:
    for event_type, reason in (
        ("ach.returned", "ACH returns are stored but not handled yet"),
        ("balance.available", "this event type is not handled"),
    ):
        body, headers = _delivery(api, event_type)
        assert (await _post(api, body, headers)).status_code == 200
        await process_pending(_platform(api))
        stored = await _stored(api, body)
        assert (stored.status, stored.reason) == (InboundStatus.IGNORED, reason)


async def test_duplicate_delivery_answers_200_and_is_not_reprocessed(api: Api) -> None:
    intent, reference = await _challenge(api)
    body, headers = _delivery(
        api, "authorization.challenge_completed", {"processor_reference": reference}
    )
    first = (await _post(api, body, headers)).json()
    again = await _post(api, body, headers)
    assert again.status_code == 200
    assert again.json() == {**first, "duplicate": True}
    # The event says the challenge completed, but the processor says it is still pending:
    # the worker believes the processor, and the intent does not move.
    assert await process_pending(_platform(api)) == 1
    stored = await _stored(api, body)
    assert (stored.status, stored.reason) == (
        InboundStatus.PROCESSED,
        "still awaiting the customer",
    )
    # A redelivery after processing is still only acknowledged.
    assert (await _post(api, body, headers)).json()["duplicate"] is True
    assert await process_pending(_platform(api)) == 0
    assert (await _intent(api, intent["id"]))["status"] == "requires_action"


async def test_bad_signature_is_400_and_not_stored_or_logged(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    marker = "body-marker-never-logged"
    body, headers = _delivery(api, data={"processor_reference": marker})
    _, forged = _delivery(api, data={"processor_reference": marker}, secret=b"wrong" * 8)
    stale_body, stale = _delivery(api, timestamp=int(time.time()) - 3600)
    other_profile_body, other_profile = _delivery(api, profile="sandbox_eu")
    cases = [
        (body, forged),
        (body, {}),
        (body, {webhooks.SIGNATURE_HEADER: "t=abc,v1=00"}),
        (body + b" ", headers),  # the body was changed after signing
        (stale_body, stale),
        (other_profile_body, other_profile),  # each profile has its own secret
    ]
    with caplog.at_level(logging.DEBUG):
        for case_body, case_headers in cases:
            response = await _post(api, case_body, case_headers)
            assert response.status_code == 400, response.text
            assert response.json()["error"]["code"] == "signature_invalid"
    assert marker not in caplog.text
    assert await _stored(api, body) is None
    assert await process_pending(_platform(api)) == 0


async def test_unknown_connector_is_404(api: Api) -> None:
    body, headers = _delivery(api)
    response = await _post(api, body, headers, connector="acme_pay")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "invalid_request_error"


@pytest.mark.settings(inbound_webhook_max_bytes=2_000)
async def test_oversized_body_is_413(api: Api) -> None:
    body, headers = _delivery(api, data={"processor_reference": "x" * 3_000})
    response = await _post(api, body, headers)
    assert response.status_code == 413
    assert await _stored(api, body) is None


async def test_signed_body_that_is_not_an_event_is_400(api: Api) -> None:
    settings = _platform(api).settings
    body = b'{"hello": "world"}'
    now = int(time.time())
    headers = webhooks.sign(
        webhooks.profile_secret(settings.sandbox_webhook_secret, "sandbox"), body, now
    )
    response = await _post(api, body, headers)
    assert response.status_code == 400


async def test_three_d_secure_completed_through_the_sandbox_webhook(api: Api) -> None:
    intent, reference = await _challenge(api)
    platform = _platform(api)
    # The customer passes the challenge at the processor (not on SmartPay's page): the
    # sandbox records it and sends its signed webhook, which SmartPay verifies and stores.
    await platform.connectors.get("sandbox").complete_challenge(reference, True)  # type: ignore[attr-defined]
    assert (await _intent(api, intent["id"]))["status"] == "requires_action"

    assert await process_pending(platform) == 1
    after = await _intent(api, intent["id"])
    assert after["status"] == "succeeded" and after["amount_received"] == 2000
    events = (await api.get("/v1/events", params={"type": "payment_intent.succeeded"})).json()
    assert [e["data"]["object"]["id"] for e in events["data"]] == [intent["id"]]
    assert await process_pending(platform) == 0


async def test_failed_challenge_through_the_webhook_returns_to_requires_payment_method(
    api: Api,
) -> None:
    intent, reference = await _challenge(api)
    platform = _platform(api)
    await platform.connectors.get("sandbox").complete_challenge(reference, False)  # type: ignore[attr-defined]
    assert await process_pending(platform) == 1
    after = await _intent(api, intent["id"])
    assert after["status"] == "requires_payment_method"
    assert after["last_payment_error"]["code"] == "payment_intent_authentication_failure"


async def test_webhook_after_the_challenge_page_applied_it_changes_nothing(api: Api) -> None:
    intent, _ = await _challenge(api)
    url = intent["next_action"]["redirect_to_url"]["url"]
    # SmartPay's own page completes the challenge and applies it at once; the sandbox's
    # webhook for the same completion arrives too.
    assert (await api.client.post(f"{url}/complete", data={"result": "succeed"})).status_code == 200
    assert await process_pending(_platform(api)) == 1
    after = await _intent(api, intent["id"])
    assert after["status"] == "succeeded" and after["amount_received"] == 2000
    events = (await api.get("/v1/events", params={"type": "charge.captured"})).json()
    assert len(events["data"]) == 1  # captured (and booked in the ledger) once


async def test_event_for_an_unknown_reference_is_retried_then_failed(api: Api) -> None:
    body, headers = _delivery(
        api, "authorization.updated", {"processor_reference": "sbch_not_recorded_yet"}
    )
    assert (await _post(api, body, headers)).status_code == 200
    platform = _platform(api)
    assert await process_pending(platform) == 0
    stored = await _stored(api, body)
    assert stored.status == InboundStatus.RECEIVED and stored.attempts == 1
    assert "processor reference" in stored.reason
    for _ in range(MAX_PROCESSING_ATTEMPTS - 2):
        await process_pending(platform)
    assert await process_pending(platform) == 1
    assert (await _stored(api, body)).status == InboundStatus.FAILED


def test_signature_scheme_round_trip() -> None:
    secret = webhooks.profile_secret("whsec_master_for_tests", "sandbox")
    body = b'{"id":"sbevt_1","type":"dispute.created","created":1,"data":{}}'
    headers = webhooks.sign(secret, body, 1_700_000_000)
    webhooks.verify(secret, body, headers, 1_700_000_000 + webhooks.TOLERANCE_SECONDS)
    # During a rotation the sender may sign with two secrets: one match is enough.
    rotated = {webhooks.SIGNATURE_HEADER: headers[webhooks.SIGNATURE_HEADER] + ",v1=00ff"}
    webhooks.verify(secret, body, rotated, 1_700_000_000)
    assert webhooks.profile_secret("whsec_master_for_tests", "other") != secret
