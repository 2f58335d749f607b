"""The sandbox processor against a real database: Stripe test cards, idempotency,
capture/void/refund rules, 3-D Secure, injected faults and profile parsing."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from smartpay import errors
from smartpay.config import Settings
from smartpay.connectors.base import (
    AuthorizeRequest,
    AuthOutcome,
    CardData,
    OperationStatus,
    RecordKind,
    RecordStatus,
)
from smartpay.connectors.sandbox import (
    TEST_CARDS,
    SandboxConnector,
    SandboxProfile,
    parse_profiles,
)
from smartpay.connectors.sandbox.models import sandbox_records
from smartpay.kit.db import Database

VISA = "4242424242424242"
THREE_DS = "4000002760003184"
FUTURE_YEAR = 2040


def card(number: str = VISA, *, exp_month: int = 12, exp_year: int = FUTURE_YEAR) -> CardData:
    return CardData(number=number, exp_month=exp_month, exp_year=exp_year, cvc="123")


def request(
    key: str = "att_1",
    number: str = VISA,
    *,
    amount: int = 10_000,
    capture: bool = False,
    currency: str = "usd",
    exp_year: int = FUTURE_YEAR,
) -> AuthorizeRequest:
    return AuthorizeRequest(
        idempotency_key=key,
        merchant_id="acct_1",
        amount=amount,
        currency=currency,
        card=card(number, exp_year=exp_year),
        capture=capture,
    )


@pytest.fixture
def sandbox(database: Database) -> SandboxConnector:
    return SandboxConnector(SandboxProfile("sandbox"), database)


async def count_rows(database: Database) -> int:
    async with database.transaction() as session:
        return int(
            (
                await session.execute(sa.select(sa.func.count()).select_from(sandbox_records))
            ).scalar_one()
        )


# ----------------------------------------------------------------------------- test cards

DECLINES = [
    ("4000000000000002", "card_declined", "generic_decline"),
    ("4000000000009995", "card_declined", "insufficient_funds"),
    ("4000000000009987", "card_declined", "lost_card"),
    ("4000000000009979", "card_declined", "stolen_card"),
    ("4000000000000069", "expired_card", "expired_card"),
    ("4000000000000127", "incorrect_cvc", "incorrect_cvc"),
    ("4000000000000119", "processing_error", "processing_error"),
    ("4100000000000019", "card_declined", "fraudulent"),
]


@pytest.mark.parametrize(("number", "error_code", "decline_code"), DECLINES)
async def test_decline_cards(
    sandbox: SandboxConnector, number: str, error_code: str, decline_code: str
) -> None:
    result = await sandbox.authorize(request(number=number, capture=True))
    assert result.outcome is AuthOutcome.DECLINED
    assert (result.error_code, result.decline_code) == (error_code, decline_code)
    assert result.message
    assert result.captured_amount == 0 and result.fee == 0
    record = await sandbox.lookup("att_1")
    assert record is not None
    assert record.status is RecordStatus.DECLINED
    assert (record.error_code, record.decline_code) == (error_code, decline_code)


def test_table_covers_every_documented_card() -> None:
    assert {number for number, _, _ in DECLINES} | {VISA, THREE_DS} == set(TEST_CARDS)


@pytest.mark.parametrize("number", [VISA, "5555555555554444", "378282246310005"])
async def test_valid_cards_are_approved(sandbox: SandboxConnector, number: str) -> None:
    result = await sandbox.authorize(request(number=number))
    assert result.outcome is AuthOutcome.APPROVED
    assert result.error_code is None and result.decline_code is None
    assert result.captured_amount == 0 and result.fee == 0
    assert result.action_url is None


async def test_three_ds_card_requires_action(sandbox: SandboxConnector) -> None:
    result = await sandbox.authorize(request(number=THREE_DS))
    assert result.outcome is AuthOutcome.REQUIRES_ACTION
    assert result.action_url == f"/sandbox/3ds/{result.processor_reference}"
    record = await sandbox.lookup("att_1")
    assert record is not None and record.status is RecordStatus.PENDING_ACTION


async def test_invalid_number_and_past_expiry_are_declined(sandbox: SandboxConnector) -> None:
    bad_luhn = await sandbox.authorize(request("a", number="4242424242424241"))
    assert bad_luhn.outcome is AuthOutcome.DECLINED
    assert bad_luhn.error_code == "incorrect_number"
    expired = await sandbox.authorize(request("b", exp_year=2001))
    assert (expired.outcome, expired.error_code) == (AuthOutcome.DECLINED, "expired_card")


async def test_card_number_and_cvc_are_never_stored(
    sandbox: SandboxConnector, database: Database
) -> None:
    await sandbox.authorize(request(number="5555555555554444"))
    async with database.transaction() as session:
        rows = (await session.execute(sa.select(sandbox_records))).all()
    stored = repr([tuple(row) for row in rows])
    assert "5555555555554444" not in stored
    assert "'123'" not in stored
    record = await sandbox.lookup("att_1")
    assert record is not None and record.extra["card_last4"] == "4444"


# ----------------------------------------------------------------------------- fees, capture


async def test_fee_is_2_9_percent_plus_30_on_capture(sandbox: SandboxConnector) -> None:
    auth = await sandbox.authorize(request(amount=10_000, capture=True))
    assert (auth.captured_amount, auth.fee) == (10_000, 320)
    record = await sandbox.lookup("att_1")
    assert record is not None
    assert (record.amount, record.fee, record.extra["captured_amount"]) == (10_000, 320, "10000")


async def test_profile_fee_schedule(database: Database) -> None:
    eu = SandboxConnector(
        SandboxProfile("sandbox_eu", fee_basis_points=150, fee_fixed=25), database
    )
    auth = await eu.authorize(request())
    capture = await eu.capture(auth.processor_reference, 10_000, "att_1:capture")
    assert capture.fee == 175


async def test_partial_capture_once(sandbox: SandboxConnector) -> None:
    auth = await sandbox.authorize(request(amount=10_000))
    too_much = await sandbox.capture(auth.processor_reference, 10_001, "cap_big")
    assert (too_much.status, too_much.failure_code) == (OperationStatus.FAILED, "amount_too_large")
    capture = await sandbox.capture(auth.processor_reference, 6_000, "cap_1")
    assert capture.status is OperationStatus.SUCCEEDED
    assert (capture.amount, capture.fee) == (6_000, 204)  # 2.9% of 6000 = 174, + 30
    again = await sandbox.capture(auth.processor_reference, 1_000, "cap_2")
    assert (again.status, again.failure_code) == (OperationStatus.FAILED, "charge_already_captured")
    record = await sandbox.lookup("cap_1")
    assert record is not None
    assert record.kind is RecordKind.CAPTURE
    assert record.parent_reference == auth.processor_reference
    assert (record.status, record.amount, record.fee) == (RecordStatus.SUCCEEDED, 6_000, 204)


async def test_capture_refused_for_declined_or_unknown_authorization(
    sandbox: SandboxConnector,
) -> None:
    declined = await sandbox.authorize(request(number="4000000000000002"))
    result = await sandbox.capture(declined.processor_reference, 100, "cap_1")
    assert (result.status, result.failure_code) == (
        OperationStatus.FAILED,
        "payment_intent_unexpected_state",
    )
    missing = await sandbox.capture("sbch_nope", 100, "cap_2")
    assert (missing.status, missing.failure_code) == (OperationStatus.FAILED, "resource_missing")
    assert await sandbox.lookup("cap_2") is None


# ----------------------------------------------------------------------------- idempotency


async def test_authorize_replay_returns_first_result(
    sandbox: SandboxConnector, database: Database
) -> None:
    first = await sandbox.authorize(request(capture=True))
    second = await sandbox.authorize(request(capture=True))
    assert second == first
    assert await count_rows(database) == 1


async def test_operation_replays_return_first_result(
    sandbox: SandboxConnector, database: Database
) -> None:
    auth = await sandbox.authorize(request(capture=True))
    refund = await sandbox.refund(auth.processor_reference, 4_000, "re_1")
    assert await sandbox.refund(auth.processor_reference, 4_000, "re_1") == refund
    capture = await sandbox.capture(auth.processor_reference, 10_000, "cap_1")
    assert capture.failure_code == "charge_already_captured"
    assert await sandbox.capture(auth.processor_reference, 10_000, "cap_1") == capture
    assert await count_rows(database) == 3


async def test_key_reused_for_another_operation_is_refused(sandbox: SandboxConnector) -> None:
    auth = await sandbox.authorize(request(capture=True))
    await sandbox.refund(auth.processor_reference, 1_000, "re_1")
    with pytest.raises(errors.IdempotencyError):
        await sandbox.refund(auth.processor_reference, 2_000, "re_1")
    with pytest.raises(errors.IdempotencyError):
        await sandbox.capture(auth.processor_reference, 1_000, "re_1")


async def test_concurrent_same_key_authorize_creates_one_record(
    sandbox: SandboxConnector, database: Database
) -> None:
    results = await asyncio.gather(*(sandbox.authorize(request("att_same")) for _ in range(20)))
    assert len({result.processor_reference for result in results}) == 1
    assert all(result.outcome is AuthOutcome.APPROVED for result in results)
    assert await count_rows(database) == 1


async def test_concurrent_refunds_never_exceed_the_captured_amount(
    sandbox: SandboxConnector,
) -> None:
    auth = await sandbox.authorize(request(amount=10_000, capture=True))
    results = await asyncio.gather(
        *(sandbox.refund(auth.processor_reference, 3_000, f"re_{i}") for i in range(5))
    )
    succeeded = [r for r in results if r.status is OperationStatus.SUCCEEDED]
    failed = [r for r in results if r.status is OperationStatus.FAILED]
    assert len(succeeded) == 3
    assert {r.failure_code for r in failed} == {"amount_too_large"}


async def test_profiles_keep_separate_books(database: Database) -> None:
    us = SandboxConnector(SandboxProfile("sandbox"), database)
    eu = SandboxConnector(SandboxProfile("sandbox_eu"), database)
    a = await us.authorize(request("att_1"))
    b = await eu.authorize(request("att_1"))
    assert a.processor_reference != b.processor_reference
    assert len(await us.records()) == 1 and len(await eu.records()) == 1
    # The other profile cannot act on this profile's authorization.
    result = await eu.capture(a.processor_reference, 100, "cap")
    assert result.failure_code == "resource_missing"


# ----------------------------------------------------------------------------- refund, void


async def test_partial_refunds_up_to_the_captured_amount(sandbox: SandboxConnector) -> None:
    auth = await sandbox.authorize(request(amount=10_000, capture=True))
    reference = auth.processor_reference
    for key, amount in (("re_1", 3_000), ("re_2", 3_000)):
        refund = await sandbox.refund(reference, amount, key)
        assert (refund.status, refund.amount, refund.fee) == (OperationStatus.SUCCEEDED, amount, 0)
    beyond = await sandbox.refund(reference, 4_001, "re_3")
    assert (beyond.status, beyond.failure_code) == (OperationStatus.FAILED, "amount_too_large")
    rest = await sandbox.refund(reference, 4_000, "re_4")
    assert rest.status is OperationStatus.SUCCEEDED
    after_full = await sandbox.refund(reference, 1, "re_5")
    assert (after_full.status, after_full.failure_code) == (
        OperationStatus.FAILED,
        "amount_too_large",
    )
    record = await sandbox.lookup("re_3")
    assert record is not None
    assert (record.kind, record.status, record.error_code) == (
        RecordKind.REFUND,
        RecordStatus.FAILED,
        "amount_too_large",
    )
    assert record.parent_reference == reference


async def test_refund_limited_to_partially_captured_amount(sandbox: SandboxConnector) -> None:
    auth = await sandbox.authorize(request(amount=10_000))
    uncaptured = await sandbox.refund(auth.processor_reference, 100, "re_0")
    assert uncaptured.failure_code == "payment_intent_unexpected_state"
    await sandbox.capture(auth.processor_reference, 5_000, "cap")
    beyond = await sandbox.refund(auth.processor_reference, 5_001, "re_1")
    assert beyond.failure_code == "amount_too_large"
    assert (await sandbox.refund(auth.processor_reference, 5_000, "re_2")).status is (
        OperationStatus.SUCCEEDED
    )


async def test_void_only_uncaptured(sandbox: SandboxConnector) -> None:
    auth = await sandbox.authorize(request("att_1", amount=10_000))
    void = await sandbox.void(auth.processor_reference, "void_1")
    assert (void.status, void.amount, void.fee) == (OperationStatus.SUCCEEDED, 10_000, 0)
    assert await sandbox.void(auth.processor_reference, "void_1") == void
    capture = await sandbox.capture(auth.processor_reference, 1_000, "cap_1")
    assert capture.failure_code == "payment_intent_unexpected_state"
    second_void = await sandbox.void(auth.processor_reference, "void_2")
    assert second_void.status is OperationStatus.FAILED

    captured = await sandbox.authorize(request("att_2", capture=True))
    refused = await sandbox.void(captured.processor_reference, "void_3")
    assert (refused.status, refused.failure_code) == (
        OperationStatus.FAILED,
        "charge_already_captured",
    )


# ----------------------------------------------------------------------------- 3-D Secure


async def test_three_ds_success_captures_when_requested(sandbox: SandboxConnector) -> None:
    pending = await sandbox.authorize(request(number=THREE_DS, capture=True))
    record = await sandbox.complete_challenge(pending.processor_reference, succeed=True)
    assert record.status is RecordStatus.APPROVED
    assert (record.amount, record.fee, record.extra["captured_amount"]) == (10_000, 320, "10000")
    # Idempotent: a second answer changes nothing.
    again = await sandbox.complete_challenge(pending.processor_reference, succeed=False)
    assert again == record
    replay = await sandbox.authorize(request(number=THREE_DS, capture=True))
    assert replay.outcome is AuthOutcome.APPROVED
    assert (replay.captured_amount, replay.fee, replay.action_url) == (10_000, 320, None)


async def test_three_ds_success_without_capture_can_be_captured(
    sandbox: SandboxConnector,
) -> None:
    pending = await sandbox.authorize(request(number=THREE_DS))
    record = await sandbox.complete_challenge(pending.processor_reference, succeed=True)
    assert (record.status, record.fee, record.extra["captured_amount"]) == (
        RecordStatus.APPROVED,
        0,
        "0",
    )
    capture = await sandbox.capture(pending.processor_reference, 10_000, "cap")
    assert capture.status is OperationStatus.SUCCEEDED


async def test_three_ds_failure_declines(sandbox: SandboxConnector) -> None:
    pending = await sandbox.authorize(request(number=THREE_DS, capture=True))
    capture = await sandbox.capture(pending.processor_reference, 10_000, "cap_early")
    assert capture.failure_code == "payment_intent_unexpected_state"
    record = await sandbox.complete_challenge(pending.processor_reference, succeed=False)
    assert record.status is RecordStatus.DECLINED
    assert record.error_code == "payment_intent_authentication_failure"
    assert record.fee == 0
    assert await sandbox.complete_challenge(pending.processor_reference, succeed=True) == record
    replay = await sandbox.authorize(request(number=THREE_DS, capture=True))
    assert replay.outcome is AuthOutcome.DECLINED


async def test_complete_challenge_unknown_or_without_challenge(sandbox: SandboxConnector) -> None:
    with pytest.raises(errors.ResourceMissing):
        await sandbox.complete_challenge("sbch_missing", succeed=True)
    plain = await sandbox.authorize(request())
    with pytest.raises(errors.InvalidState):
        await sandbox.complete_challenge(plain.processor_reference, succeed=True)


# ----------------------------------------------------------------------------- faults


async def test_failure_rate_raises_unavailable_and_records_nothing(
    database: Database,
) -> None:
    flaky = SandboxConnector(SandboxProfile("sandbox", failure_rate=1.0), database)
    with pytest.raises(errors.ProcessorUnavailable):
        await flaky.authorize(request())
    with pytest.raises(errors.ProcessorUnavailable):
        await flaky.refund("sbch_x", 100, "re_1")
    assert await flaky.lookup("att_1") is None
    assert await flaky.records() == []
    assert await count_rows(database) == 0


async def test_timeout_rate_records_then_raises_outcome_unknown(database: Database) -> None:
    lossy = SandboxConnector(SandboxProfile("sandbox", timeout_rate=1.0), database)
    with pytest.raises(errors.OutcomeUnknown):
        await lossy.authorize(request(capture=True))
    record = await lossy.lookup("att_1")
    assert record is not None
    assert (record.kind, record.status, record.amount, record.fee) == (
        RecordKind.AUTHORIZATION,
        RecordStatus.APPROVED,
        10_000,
        320,
    )
    with pytest.raises(errors.OutcomeUnknown):
        await lossy.refund(record.processor_reference, 1_000, "re_1")
    refund = await lossy.lookup("re_1")
    assert refund is not None and refund.status is RecordStatus.SUCCEEDED
    # Retrying with the same key never records twice.
    with pytest.raises(errors.OutcomeUnknown):
        await lossy.authorize(request(capture=True))
    assert await count_rows(database) == 2
    # A healthy connection to the same processor answers from the same books.
    healthy = SandboxConnector(SandboxProfile("sandbox"), database)
    result = await healthy.authorize(request(capture=True))
    assert result.processor_reference == record.processor_reference


async def test_seeded_faults_are_reproducible(database: Database) -> None:
    async def pattern(connector: SandboxConnector, prefix: str) -> list[str]:
        out = []
        for i in range(30):
            try:
                await connector.authorize(request(f"{prefix}{i}"))
                out.append("ok")
            except errors.ProcessorUnavailable:
                out.append("unavailable")
            except errors.OutcomeUnknown:
                out.append("unknown")
        return out

    profile = SandboxProfile("sandbox", failure_rate=0.3, timeout_rate=0.3, seed=7)
    first = await pattern(SandboxConnector(profile, database), "a")
    second = await pattern(SandboxConnector(profile, database), "b")
    assert first == second
    assert set(first) == {"ok", "unavailable", "unknown"}


async def test_records_since(sandbox: SandboxConnector) -> None:
    auth = await sandbox.authorize(request(capture=True))
    await sandbox.refund(auth.processor_reference, 100, "re_1")
    records = await sandbox.records()
    assert [r.kind for r in records] == [RecordKind.AUTHORIZATION, RecordKind.REFUND]
    assert records[0].created > 0
    assert await sandbox.records(since=records[-1].created + 1) == []


# ----------------------------------------------------------------------------- profiles


def test_parse_profiles_default() -> None:
    assert parse_profiles(Settings(sandbox_profiles="")) == [SandboxProfile("sandbox")]
    profile = parse_profiles(Settings(sandbox_profiles="  "))[0]
    assert (profile.fee_basis_points, profile.fee_fixed, profile.latency_ms) == (290, 30, 0)


def test_parse_profiles_json() -> None:
    settings = Settings(
        sandbox_profiles='{"sandbox": {}, "sandbox_eu": {"latency_ms": 50, '
        '"fee_basis_points": 150, "failure_rate": 0.1, "timeout_rate": 0, "seed": 3}}'
    )
    assert parse_profiles(settings) == [
        SandboxProfile("sandbox"),
        SandboxProfile("sandbox_eu", latency_ms=50, fee_basis_points=150, failure_rate=0.1, seed=3),
    ]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "non-empty JSON object"),
        ("{}", "non-empty JSON object"),
        ('{"sandbox": 3}', "must be a JSON object"),
        ('{"sandbox": {"fee_percent": 2.9}}', "unknown keys fee_percent"),
        ('{"sandbox": {"failure_rate": 2}}', "failure_rate must be a number from 0 to 1"),
        ('{"sandbox": {"failure_rate": 0.6, "timeout_rate": 0.6}}', "must not exceed 1"),
        ('{"sandbox": {"latency_ms": -1}}', "latency_ms must be from 0"),
        ('{"sandbox": {"fee_fixed": "30"}}', "fee_fixed must be a whole number"),
        ('{"sandbox": {"fee_basis_points": 10001}}', "fee_basis_points must be from 0 to 10000"),
        ('{"bad name!": {}}', "Invalid sandbox profile name"),
    ],
)
def test_parse_profiles_refuses_bad_config(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match="SMARTPAY_SANDBOX_PROFILES") as info:
        parse_profiles(Settings(sandbox_profiles=raw))
    assert message in str(info.value)


async def test_latency_waits(database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []
    real_sleep = asyncio.sleep

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)
        await real_sleep(0)

    monkeypatch.setattr(asyncio, "sleep", fake_sleep)
    slow = SandboxConnector(SandboxProfile("sandbox", latency_ms=50), database)
    await slow.authorize(request())
    await slow.lookup("att_1")
    assert waits == [0.05, 0.05]
