"""The sandbox processor: a real, deterministic implementation of the ``Connector``
Protocol, the default in development and tests.

It keeps its own books (``sandbox_records``) in the database it is given, written in its
own short transactions as an external processor would, and answers like Stripe's test
mode: the card number picks the outcome (``TEST_CARDS``). A ``SandboxProfile`` adds
latency, technical failures and lost responses at reproducible rates, and a fee schedule.

Fault injection applies to the four operations SmartPay initiates (authorize, capture,
void, refund). ``lookup`` and ``records`` are how SmartPay resolves unknown outcomes and
reconciles, so they only get the profile's latency. The card number and CVC are never
logged or stored; a record keeps only the last four digits.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import Any, Final

import sqlalchemy as sa

from smartpay import errors
from smartpay.cards.validation import detect_brand, luhn_valid
from smartpay.config import Settings
from smartpay.connectors.base import (
    AuthorizeRequest,
    AuthorizeResult,
    AuthOutcome,
    CardData,
    OperationResult,
    OperationStatus,
    ProcessorRecord,
    ProviderEvent,
    RecordKind,
    RecordStatus,
)
from smartpay.connectors.facts import AMOUNT_BANDS, amount_band, issuer_country
from smartpay.connectors.sandbox import repository, webhooks
from smartpay.connectors.sandbox.models import ChallengeStatus
from smartpay.connectors.sandbox.webhooks import SandboxWebhookSender, WebhookSink
from smartpay.kit import clock
from smartpay.kit.db import Database, Session
from smartpay.kit.ids import new_id
from smartpay.kit.money import percentage_fee

logger = logging.getLogger(__name__)

# ----------------------------------------------------------------------------- profiles

DEFAULT_PROFILE_NAME: Final = "sandbox"
# Stripe's standard pricing for domestic cards: 2.9% + 30¢ per successful charge.
DEFAULT_FEE_BASIS_POINTS: Final = 290
DEFAULT_FEE_FIXED: Final = 30
# 10,000 basis points is 100%: no fee rate can exceed the whole amount.
MAX_FEE_BASIS_POINTS: Final = 10_000
# Profile names are processor names: they go into config lists, attempt rows and the
# String(64) ``processor`` column, so they stay short and plain.
_PROFILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,63}$")


# A standard normal variable is below this 99% of the time: turns a p99 into a sigma.
_Z_99: Final = 2.326
# What an issuer answers when the profile's approval draw declines a payment.
SOFT_DECLINE_CODE: Final = "do_not_honor"
RETRYABLE_DECLINE_CODE: Final = "try_again_later"


@dataclass(frozen=True, slots=True)
class Outage:
    """A window (unix seconds, ``start`` included, ``end`` excluded) in which the profile
    fails calls at these rates instead of its usual ones."""

    start: int
    end: int
    failure_rate: float = 1.0
    timeout_rate: float = 0.0

    def covers(self, now: float) -> bool:
        return self.start <= now < self.end


@dataclass(frozen=True, slots=True)
class SandboxProfile:
    """One simulated processor: its name, how it misbehaves and what it charges.

    ``failure_rate``: share of calls refused before anything is recorded
    (``ProcessorUnavailable``). ``timeout_rate``: share of calls recorded whose answer is
    then lost (``OutcomeUnknown``). ``seed`` makes the sequence of faults reproducible.

    Approval (for cards the test-card table would approve): ``approval_rate`` times the
    matching entries of ``approval_by_brand`` (``visa``…), ``approval_by_country`` (ISO
    alpha-2 of the issuer) and ``approval_by_amount_band`` (``small``/``medium``/
    ``large``), each missing entry counting as 1. A payment the draw declines is answered
    ``do_not_honor``, or ``try_again_later`` for a ``retryable_decline_share`` of them.
    ``latency_p99_ms``: when set, each call's latency is log-normal with median
    ``latency_ms`` and this 99th percentile. ``outages``: windows with other fault rates.
    """

    name: str
    latency_ms: int = 0
    failure_rate: float = 0.0
    timeout_rate: float = 0.0
    fee_basis_points: int = DEFAULT_FEE_BASIS_POINTS
    fee_fixed: int = DEFAULT_FEE_FIXED
    seed: int | None = None
    approval_rate: float = 1.0
    approval_by_brand: Mapping[str, float] = field(default_factory=dict)
    approval_by_country: Mapping[str, float] = field(default_factory=dict)
    approval_by_amount_band: Mapping[str, float] = field(default_factory=dict)
    retryable_decline_share: float = 0.0
    latency_p99_ms: int | None = None
    outages: tuple[Outage, ...] = ()

    def __post_init__(self) -> None:
        where = f"sandbox profile {self.name!r}"
        if not isinstance(self.name, str) or not _PROFILE_NAME.fullmatch(self.name):
            raise ValueError(
                f"Invalid sandbox profile name {self.name!r}: use 1 to 64 letters, digits, "
                "'_' or '-', starting with a letter or digit."
            )
        _check_int(self.latency_ms, f"{where}: latency_ms", low=0)
        _check_int(self.fee_basis_points, f"{where}: fee_basis_points", 0, MAX_FEE_BASIS_POINTS)
        _check_int(self.fee_fixed, f"{where}: fee_fixed", low=0)
        if self.seed is not None:
            _check_int(self.seed, f"{where}: seed")
        for label, rate in (
            ("failure_rate", self.failure_rate),
            ("timeout_rate", self.timeout_rate),
        ):
            if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
                raise ValueError(f"{where}: {label} must be a number from 0 to 1, got {rate!r}.")
        if self.failure_rate + self.timeout_rate > 1:
            raise ValueError(
                f"{where}: failure_rate + timeout_rate must not exceed 1 "
                f"(got {self.failure_rate} + {self.timeout_rate})."
            )
        _check_rate(self.approval_rate, f"{where}: approval_rate")
        _check_rate(self.retryable_decline_share, f"{where}: retryable_decline_share")
        for label, table in (
            ("approval_by_brand", self.approval_by_brand),
            ("approval_by_country", self.approval_by_country),
            ("approval_by_amount_band", self.approval_by_amount_band),
        ):
            if not isinstance(table, Mapping):
                raise ValueError(f"{where}: {label} must be an object of rates.")
            for key, rate in table.items():
                _check_rate(rate, f"{where}: {label}[{key!r}]")
        unknown_bands = sorted(set(self.approval_by_amount_band) - set(AMOUNT_BANDS))
        if unknown_bands:
            raise ValueError(
                f"{where}: approval_by_amount_band has unknown bands "
                f"{', '.join(unknown_bands)}; allowed: {', '.join(AMOUNT_BANDS)}."
            )
        if self.latency_p99_ms is not None:
            _check_int(self.latency_p99_ms, f"{where}: latency_p99_ms", low=self.latency_ms)
            if self.latency_ms < 1:
                raise ValueError(f"{where}: latency_p99_ms needs a latency_ms of at least 1.")
        for outage in self.outages:
            _check_int(outage.start, f"{where}: outage start", low=0)
            _check_int(outage.end, f"{where}: outage end", low=outage.start)
            _check_rate(outage.failure_rate, f"{where}: outage failure_rate")
            _check_rate(outage.timeout_rate, f"{where}: outage timeout_rate")

    def fault_rates(self, now: float) -> tuple[float, float]:
        """(failure_rate, timeout_rate) at unix time ``now``: an outage's, if one covers it."""
        for outage in self.outages:
            if outage.covers(now):
                return outage.failure_rate, outage.timeout_rate
        return self.failure_rate, self.timeout_rate

    def approval_probability(self, brand: str | None, country: str | None, band: str) -> float:
        """The chance the profile approves a card the test-card table would approve."""
        rate = self.approval_rate
        rate *= self.approval_by_brand.get(brand or "", 1.0)
        rate *= self.approval_by_country.get(country or "", 1.0)
        rate *= self.approval_by_amount_band.get(band, 1.0)
        return rate

    def draw_latency_ms(self, rng: random.Random) -> float:
        """One call's latency: fixed, or log-normal with the configured median and p99."""
        if self.latency_p99_ms is None or self.latency_p99_ms == self.latency_ms:
            return float(self.latency_ms)
        sigma = math.log(self.latency_p99_ms / self.latency_ms) / _Z_99
        return self.latency_ms * math.exp(rng.gauss(0.0, sigma))

    def fee(self, captured_amount: int) -> int:
        """The fee on a capture. Refunds return no fee, as with Stripe."""
        return percentage_fee(captured_amount, self.fee_basis_points, self.fee_fixed)


def _check_rate(rate: object, label: str) -> None:
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
        raise ValueError(f"{label} must be a number from 0 to 1, got {rate!r}.")


def _check_int(value: object, label: str, low: int | None = None, high: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{label} must be a whole number, got {value!r}.")
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"from {low}" if high is None else f"from {low} to {high}"
        raise ValueError(f"{label} must be {bounds}, got {value}.")


_PROFILE_KEYS: Final = (
    "latency_ms",
    "failure_rate",
    "timeout_rate",
    "fee_basis_points",
    "fee_fixed",
    "seed",
    "approval_rate",
    "approval_by_brand",
    "approval_by_country",
    "approval_by_amount_band",
    "retryable_decline_share",
    "latency_p99_ms",
    "outages",
)
_OUTAGE_KEYS: Final = ("start", "end", "failure_rate", "timeout_rate")


def _parse_outages(name: str, raw: object) -> tuple[Outage, ...]:
    if not isinstance(raw, list):
        raise ValueError(f"profile {name!r}: outages must be a list of {{start, end}} objects.")
    outages = []
    for item in raw:
        if not isinstance(item, dict) or not {"start", "end"} <= set(item):
            raise ValueError(f"profile {name!r}: each outage needs start and end (unix seconds).")
        unknown = sorted(set(item) - set(_OUTAGE_KEYS))
        if unknown:
            raise ValueError(f"profile {name!r}: outage has unknown keys {', '.join(unknown)}.")
        outages.append(Outage(**item))
    return tuple(outages)


def parse_profiles(settings: Settings) -> list[SandboxProfile]:
    """The sandbox profiles configured by ``SMARTPAY_SANDBOX_PROFILES``, in order.

    The setting is a JSON object ``{name: {latency_ms, failure_rate, timeout_rate,
    fee_basis_points, fee_fixed, seed, approval_rate, approval_by_brand,
    approval_by_country, approval_by_amount_band, retryable_decline_share,
    latency_p99_ms, outages}}`` (every key optional; see ``SandboxProfile``). Empty: one
    profile named ``sandbox`` with defaults. Anything malformed raises ``ValueError``.
    """
    raw = settings.sandbox_profiles.strip()
    if not raw:
        return [SandboxProfile(DEFAULT_PROFILE_NAME)]
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"SMARTPAY_SANDBOX_PROFILES is not valid JSON: {exc}.") from None
    if not isinstance(document, dict) or not document:
        raise ValueError(
            "SMARTPAY_SANDBOX_PROFILES must be a non-empty JSON object of profiles, e.g. "
            '{"sandbox": {}, "sandbox_eu": {"latency_ms": 50, "fee_basis_points": 150}}.'
        )
    profiles = []
    for name, options in document.items():
        if not isinstance(options, dict):
            raise ValueError(
                f"SMARTPAY_SANDBOX_PROFILES: profile {name!r} must be a JSON object, "
                f"got {type(options).__name__}."
            )
        unknown = sorted(set(options) - set(_PROFILE_KEYS))
        if unknown:
            raise ValueError(
                f"SMARTPAY_SANDBOX_PROFILES: profile {name!r} has unknown keys "
                f"{', '.join(unknown)}; allowed: {', '.join(_PROFILE_KEYS)}."
            )
        try:
            if "outages" in options:
                options = {**options, "outages": _parse_outages(name, options["outages"])}
            profiles.append(SandboxProfile(name=name, **options))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"SMARTPAY_SANDBOX_PROFILES: {exc}") from None
    return profiles


# ----------------------------------------------------------------------------- test cards


@dataclass(frozen=True, slots=True)
class CardScenario:
    """What the sandbox answers for one test card number."""

    outcome: AuthOutcome
    error_code: str | None = None
    decline_code: str | None = None
    message: str | None = None


_DECLINED_MESSAGE: Final = "Your card was declined."


def _declined(
    decline_code: str, message: str = _DECLINED_MESSAGE, error_code: str = "card_declined"
) -> CardScenario:
    return CardScenario(AuthOutcome.DECLINED, error_code, decline_code, message)


# Stripe's test card numbers with the codes and messages Stripe answers, so that code
# written against the sandbox behaves the same against Stripe's test mode.
# https://docs.stripe.com/testing#declined-payments (declines and errors)
# https://docs.stripe.com/testing#regulatory-cards (4000002760003184: always 3-D Secure)
# Any other valid card number is approved.
TEST_CARDS: Final[Mapping[str, CardScenario]] = MappingProxyType(
    {
        "4242424242424242": CardScenario(AuthOutcome.APPROVED),
        "4000000000000002": _declined("generic_decline"),
        "4000000000009995": _declined("insufficient_funds", "Your card has insufficient funds."),
        "4000000000009987": _declined("lost_card"),
        "4000000000009979": _declined("stolen_card"),
        "4000000000000069": _declined(
            "expired_card", "Your card has expired.", error_code="expired_card"
        ),
        "4000000000000127": _declined(
            "incorrect_cvc", "Your card's security code is incorrect.", error_code="incorrect_cvc"
        ),
        "4000000000000119": _declined(
            "processing_error",
            "An error occurred while processing your card. Try again in a little bit.",
            error_code="processing_error",
        ),
        "4100000000000019": _declined("fraudulent"),
        "4000002760003184": CardScenario(AuthOutcome.REQUIRES_ACTION),
    }
)

# Card numbers are 12 to 19 digits long (ISO/IEC 7812); anything else is refused.
PAN_MIN_LENGTH: Final = 12
PAN_MAX_LENGTH: Final = 19
# A two-digit expiry year means 20YY, as Stripe reads it.
_CENTURY: Final = 2000
_MONTHS_PER_YEAR: Final = 12

_INCORRECT_NUMBER = _declined(
    "incorrect_number", "Your card number is incorrect.", error_code="incorrect_number"
)
_EXPIRED = TEST_CARDS["4000000000000069"]
_INVALID_EXPIRY_MONTH = _declined(
    "invalid_expiry_month",
    "Your card's expiration month is invalid.",
    error_code="invalid_expiry_month",
)
_APPROVED = CardScenario(AuthOutcome.APPROVED)

AUTHENTICATION_FAILED_CODE: Final = "payment_intent_authentication_failure"
AUTHENTICATION_FAILED_MESSAGE: Final = (
    "The provided payment method has failed authentication. Provide a new payment method "
    "to attempt to fulfill this PaymentIntent again."
)


def scenario_for(card: CardData, now: int) -> CardScenario:
    """The sandbox's answer for a card at unix time ``now``: invalid details first, then
    the test card table, then approval."""
    number = card.number
    if not (number.isascii() and number.isdigit()) or not (
        PAN_MIN_LENGTH <= len(number) <= PAN_MAX_LENGTH and luhn_valid(number)
    ):
        return _INCORRECT_NUMBER
    if not 1 <= card.exp_month <= _MONTHS_PER_YEAR:
        return _INVALID_EXPIRY_MONTH
    year = card.exp_year + _CENTURY if card.exp_year < 100 else card.exp_year
    today = time.gmtime(now)
    if (year, card.exp_month) < (today.tm_year, today.tm_mon):
        return _EXPIRED
    return TEST_CARDS.get(card.number, _APPROVED)


_Row = sa.Row[Any]


def _to_record(row: _Row) -> ProcessorRecord:
    extra: dict[str, str] = {}
    if row.kind == RecordKind.AUTHORIZATION.value:
        extra["captured_amount"] = str(row.captured_amount)
        if row.card_last4:
            extra["card_last4"] = row.card_last4
        if row.challenge_status:
            extra["challenge_status"] = row.challenge_status
    return ProcessorRecord(
        kind=RecordKind(row.kind),
        idempotency_key=row.idempotency_key,
        processor_reference=row.processor_reference,
        status=RecordStatus(row.status),
        amount=row.amount,
        currency=row.currency,
        fee=row.fee,
        decline_code=row.decline_code,
        error_code=row.error_code,
        parent_reference=row.parent_reference,
        created=row.created,
        extra=extra,
    )


# ----------------------------------------------------------------------------- connector

# Processor reference prefixes, one per record kind, so a reference says what it names.
_REFERENCE_PREFIX: Final = {
    RecordKind.AUTHORIZATION: "sbch",
    RecordKind.CAPTURE: "sbcp",
    RecordKind.VOID: "sbvd",
    RecordKind.REFUND: "sbre",
}
_OUTCOME_STATUS: Final = {
    AuthOutcome.APPROVED: RecordStatus.APPROVED,
    AuthOutcome.DECLINED: RecordStatus.DECLINED,
    AuthOutcome.REQUIRES_ACTION: RecordStatus.PENDING_ACTION,
}
_STATUS_OUTCOME: Final = {status: outcome for outcome, status in _OUTCOME_STATUS.items()}
_MILLISECONDS: Final = 1000


class _Fault(Enum):
    UNAVAILABLE = "unavailable"  # refuse before recording anything
    LOST_RESPONSE = "lost_response"  # record, then lose the answer


@dataclass(frozen=True, slots=True)
class _Refusal:
    code: str
    message: str


class SandboxConnector:
    """One sandbox profile as a ``Connector``. Several connectors of the same profile on
    the same database share one set of books."""

    def __init__(
        self,
        profile: SandboxProfile,
        database: Database,
        *,
        webhook_secret: bytes | None = None,
        webhook_sink: WebhookSink | None = None,
    ) -> None:
        """``webhook_secret`` signs and verifies this profile's webhooks (see
        ``sandbox.webhooks``); without it the profile sends none and accepts none.
        ``webhook_sink`` is where signed webhooks go."""
        self.profile = profile
        self.name = profile.name
        self._database = database
        self._webhook_secret = webhook_secret
        self._webhooks = SandboxWebhookSender(webhook_secret or b"", webhook_sink)
        # Not for security: a seeded generator makes injected faults reproducible.
        self._rng = random.Random(profile.seed)  # noqa: S311

    # -- Connector

    async def authorize(self, request: AuthorizeRequest) -> AuthorizeResult:
        fault = await self._enter("authorize", request.idempotency_key)
        now = clock.now()
        scenario = self._issuer_answer(request, scenario_for(request.card, now))
        reference = new_id(_REFERENCE_PREFIX[RecordKind.AUTHORIZATION])
        captured = (
            request.amount if request.capture and scenario.outcome is AuthOutcome.APPROVED else 0
        )
        number = request.card.number
        values: dict[str, Any] = {
            "processor": self.name,
            "kind": RecordKind.AUTHORIZATION.value,
            "idempotency_key": request.idempotency_key,
            "processor_reference": reference,
            "parent_reference": None,
            "status": _OUTCOME_STATUS[scenario.outcome].value,
            "amount": request.amount,
            "currency": request.currency,
            "captured_amount": captured,
            "fee": self.profile.fee(captured) if captured else 0,
            "capture_requested": request.capture,
            "challenge_status": (
                ChallengeStatus.PENDING.value
                if scenario.outcome is AuthOutcome.REQUIRES_ACTION
                else None
            ),
            "card_last4": number[-4:] if number.isascii() and number.isdigit() else None,
            "decline_code": scenario.decline_code,
            "error_code": scenario.error_code,
            "message": scenario.message,
            "created": now,
        }
        async with self._database.transaction() as session:
            row = await repository.insert_once(session, values)
        self._check_replay(row, RecordKind.AUTHORIZATION, None, request.amount, request.currency)
        self._lose_response(fault, "authorize", request.idempotency_key)
        return _authorize_result(row)

    async def capture(
        self, processor_reference: str, amount: int, idempotency_key: str
    ) -> OperationResult:
        return await self._operate(RecordKind.CAPTURE, processor_reference, amount, idempotency_key)

    async def void(self, processor_reference: str, idempotency_key: str) -> OperationResult:
        return await self._operate(RecordKind.VOID, processor_reference, None, idempotency_key)

    async def refund(
        self, processor_reference: str, amount: int, idempotency_key: str
    ) -> OperationResult:
        return await self._operate(RecordKind.REFUND, processor_reference, amount, idempotency_key)

    async def lookup(self, idempotency_key: str) -> ProcessorRecord | None:
        await self._latency()
        async with self._database.transaction() as session:
            row = await repository.find_by_key(session, self.name, idempotency_key)
        return None if row is None else _to_record(row)

    async def records(self, since: int = 0) -> list[ProcessorRecord]:
        await self._latency()
        async with self._database.transaction() as session:
            rows = await repository.list_records(session, self.name, since)
        return [_to_record(row) for row in rows]

    def estimate_fee(self, amount: int, currency: str) -> int:
        """The fee an approved, captured ``amount`` would cost here (used by routing)."""
        return self.profile.fee(amount)

    # -- webhooks

    def verify_webhook(self, body: bytes, headers: dict[str, str], now: int) -> ProviderEvent:
        if self._webhook_secret is None:
            raise errors.SignatureInvalid(f"Sandbox profile {self.name} has no webhook secret.")
        webhooks.verify(self._webhook_secret, body, headers, now)
        return webhooks.parse(body)

    # -- 3-D Secure

    async def complete_challenge(self, processor_reference: str, succeed: bool) -> ProcessorRecord:
        """The customer answered the 3-D Secure challenge of a pending authorization.

        Success approves it (and captures it when it was requested with capture=True);
        failure declines it with ``payment_intent_authentication_failure``. Completing a
        challenge already answered changes nothing and returns the record as it stands.
        """
        await self._latency()
        async with self._database.transaction() as session:
            row = await repository.find_by_reference(
                session, self.name, processor_reference, for_update=True
            )
            if row is None or row.kind != RecordKind.AUTHORIZATION.value:
                raise errors.ResourceMissing(
                    f"No sandbox authorization {processor_reference!r} on {self.name}."
                )
            if row.challenge_status is None:
                raise errors.InvalidState(
                    f"Authorization {processor_reference!r} has no 3-D Secure challenge."
                )
            answered = row.challenge_status == ChallengeStatus.PENDING.value
            if answered:
                if succeed:
                    captured = row.amount if row.capture_requested else 0
                    await repository.update_reference(
                        session,
                        self.name,
                        processor_reference,
                        status=RecordStatus.APPROVED.value,
                        challenge_status=ChallengeStatus.SUCCEEDED.value,
                        captured_amount=captured,
                        fee=self.profile.fee(captured) if captured else 0,
                    )
                else:
                    await repository.update_reference(
                        session,
                        self.name,
                        processor_reference,
                        status=RecordStatus.DECLINED.value,
                        challenge_status=ChallengeStatus.FAILED.value,
                        error_code=AUTHENTICATION_FAILED_CODE,
                        message=AUTHENTICATION_FAILED_MESSAGE,
                    )
                row = await repository.find_by_reference(session, self.name, processor_reference)
                assert row is not None
        if answered and self._webhook_secret is not None:
            # Like a real processor: tell the merchant's platform once the books are written.
            await self._webhooks.send(
                self,
                "authorization.challenge_completed",
                {
                    "processor_reference": row.processor_reference,
                    "status": row.status,
                    "challenge_status": row.challenge_status,
                },
                clock.now(),
            )
        return _to_record(row)

    # -- internals

    def _issuer_answer(self, request: AuthorizeRequest, scenario: CardScenario) -> CardScenario:
        """The profile's approval rate for this card's brand, country and amount band,
        applied to cards the test-card table approves. A profile approving everything
        draws nothing, so its fault sequence is the same as before approval rates."""
        profile = self.profile
        if scenario.outcome is not AuthOutcome.APPROVED or not _has_approval_model(profile):
            return scenario
        number = request.card.number
        probability = profile.approval_probability(
            detect_brand(number),
            issuer_country(number),
            amount_band(request.amount, request.currency),
        )
        if self._rng.random() < probability:
            return scenario
        if self._rng.random() < profile.retryable_decline_share:
            return _declined(
                RETRYABLE_DECLINE_CODE, "The issuer could not answer; try again in a moment."
            )
        return _declined(SOFT_DECLINE_CODE)

    async def _latency(self) -> None:
        delay = self.profile.draw_latency_ms(self._rng)
        if delay:
            await asyncio.sleep(delay / _MILLISECONDS)

    async def _enter(self, operation: str, key: str) -> _Fault | None:
        """Wait the profile's latency and draw this call's fault: one draw per call, so a
        seeded profile misbehaves in the same sequence every run."""
        await self._latency()
        failure_rate, timeout_rate = self.profile.fault_rates(clock.now())
        draw = self._rng.random()
        if draw < failure_rate:
            logger.info("sandbox %s: injected failure on %s %s", self.name, operation, key)
            raise errors.ProcessorUnavailable(
                f"Sandbox processor {self.name} is unavailable (injected failure); "
                "nothing was processed."
            )
        if draw < failure_rate + timeout_rate:
            return _Fault.LOST_RESPONSE
        return None

    def _lose_response(self, fault: _Fault | None, operation: str, key: str) -> None:
        if fault is _Fault.LOST_RESPONSE:
            logger.info("sandbox %s: injected lost response on %s %s", self.name, operation, key)
            raise errors.OutcomeUnknown(
                f"Sandbox processor {self.name} recorded the {operation} but its answer was "
                "lost (injected timeout); look it up by idempotency key."
            )

    def _check_replay(
        self,
        row: _Row,
        kind: RecordKind,
        parent: str | None,
        amount: int | None,
        currency: str | None,
    ) -> None:
        """A key reused for a different operation is a caller bug: refuse it loudly rather
        than answer with another operation's result."""
        same = (
            row.kind == kind.value
            and row.parent_reference == parent
            and (amount is None or row.amount == amount)
            and (currency is None or row.currency == currency)
        )
        if not same:
            raise errors.IdempotencyError(
                f"Idempotency key {row.idempotency_key!r} was already used on {self.name} for "
                f"a different request ({row.kind} of {row.amount} {row.currency})."
            )

    async def _operate(
        self, kind: RecordKind, parent_reference: str, amount: int | None, key: str
    ) -> OperationResult:
        fault = await self._enter(kind.value, key)
        async with self._database.transaction() as session:
            row = await repository.find_by_key(session, self.name, key)
            if row is None:
                # Lock the authorization: operations on it are decided one at a time.
                parent = await repository.find_by_reference(
                    session, self.name, parent_reference, for_update=True
                )
                if parent is None or parent.kind != RecordKind.AUTHORIZATION.value:
                    self._lose_response(fault, kind.value, key)
                    return OperationResult(
                        status=OperationStatus.FAILED,
                        processor_reference=parent_reference,
                        amount=amount or 0,
                        failure_code="resource_missing",
                        message=f"No such charge: '{parent_reference}'.",
                    )
                # A concurrent call with the same key may have committed while we waited.
                row = await repository.find_by_key(session, self.name, key)
                if row is None:
                    row = await self._decide(session, kind, parent, amount, key)
        self._check_replay(row, kind, parent_reference, amount, None)
        self._lose_response(fault, kind.value, key)
        return _operation_result(row)

    async def _decide(
        self, session: Session, kind: RecordKind, parent: _Row, amount: int | None, key: str
    ) -> _Row:
        """Apply one capture, void or refund to a locked authorization and record it."""
        reference = parent.processor_reference
        refusal: _Refusal | None = None
        fee = 0
        if kind is RecordKind.CAPTURE:
            assert amount is not None
            refusal = await self._refuse_capture(session, parent, amount)
            if refusal is None:
                fee = self.profile.fee(amount)
        elif kind is RecordKind.VOID:
            refusal = await self._refuse_void(session, parent)
            amount = parent.amount
        else:
            assert amount is not None
            refusal = await self._refuse_refund(session, parent, amount)
        assert amount is not None
        values: dict[str, Any] = {
            "processor": self.name,
            "kind": kind.value,
            "idempotency_key": key,
            "processor_reference": new_id(_REFERENCE_PREFIX[kind]),
            "parent_reference": reference,
            "status": (RecordStatus.FAILED if refusal else RecordStatus.SUCCEEDED).value,
            "amount": amount,
            "currency": parent.currency,
            "fee": fee,
            "error_code": refusal.code if refusal else None,
            "message": refusal.message if refusal else None,
            "created": clock.now(),
        }
        row = await repository.insert_once(session, values)
        won = row.processor_reference == values["processor_reference"]
        if won and kind is RecordKind.CAPTURE and refusal is None:
            await repository.update_reference(session, self.name, reference, captured_amount=amount)
        return row

    async def _refuse_capture(self, session: Session, parent: _Row, amount: int) -> _Refusal | None:
        if refusal := await self._refuse_unless_open(session, parent):
            return refusal
        if parent.captured_amount > 0:
            return _Refusal("charge_already_captured", "This charge has already been captured.")
        return _check_amount(amount, parent.amount, "the authorized amount")

    async def _refuse_void(self, session: Session, parent: _Row) -> _Refusal | None:
        if refusal := await self._refuse_unless_open(session, parent):
            return refusal
        if parent.captured_amount > 0:
            return _Refusal(
                "charge_already_captured",
                "This charge has been captured and cannot be voided; refund it instead.",
            )
        return None

    async def _refuse_refund(self, session: Session, parent: _Row, amount: int) -> _Refusal | None:
        if parent.status != RecordStatus.APPROVED.value or parent.captured_amount == 0:
            return _Refusal(
                "payment_intent_unexpected_state",
                "This charge has not been captured, so there is nothing to refund.",
            )
        _, refunded = await repository.children_total(
            session, self.name, parent.processor_reference, RecordKind.REFUND
        )
        return _check_amount(amount, parent.captured_amount - refunded, "the amount left to refund")

    async def _refuse_unless_open(self, session: Session, parent: _Row) -> _Refusal | None:
        """Capture and void need an approved authorization that was not voided."""
        if parent.status != RecordStatus.APPROVED.value:
            return _Refusal(
                "payment_intent_unexpected_state",
                f"This authorization is {parent.status}, not approved.",
            )
        voids, _ = await repository.children_total(
            session, self.name, parent.processor_reference, RecordKind.VOID
        )
        if voids:
            return _Refusal("payment_intent_unexpected_state", "This authorization was voided.")
        return None


def _has_approval_model(profile: SandboxProfile) -> bool:
    return profile.approval_rate < 1 or any(
        (profile.approval_by_brand, profile.approval_by_country, profile.approval_by_amount_band)
    )


def _check_amount(amount: int, limit: int, what: str) -> _Refusal | None:
    if amount < 1:
        return _Refusal("amount_too_small", f"Amount must be at least 1, got {amount}.")
    if amount > limit:
        return _Refusal("amount_too_large", f"Amount {amount} exceeds {what} ({limit}).")
    return None


def _authorize_result(row: _Row) -> AuthorizeResult:
    outcome = _STATUS_OUTCOME[RecordStatus(row.status)]
    return AuthorizeResult(
        outcome=outcome,
        processor_reference=row.processor_reference,
        captured_amount=row.captured_amount,
        fee=row.fee,
        decline_code=row.decline_code,
        error_code=row.error_code,
        message=row.message,
        action_url=(
            f"/sandbox/3ds/{row.processor_reference}"
            if outcome is AuthOutcome.REQUIRES_ACTION
            else None
        ),
    )


def _operation_result(row: _Row) -> OperationResult:
    succeeded = row.status == RecordStatus.SUCCEEDED.value
    return OperationResult(
        status=OperationStatus.SUCCEEDED if succeeded else OperationStatus.FAILED,
        processor_reference=row.processor_reference,
        amount=row.amount,
        fee=row.fee,
        failure_code=row.error_code,
        message=row.message,
    )
