"""The risk engine's part of a confirmation: what `PaymentFlows` calls in phase one.

`assess_confirmation` scores the payment; a block is answered here (a failed charge,
``card_declined`` / ``fraudulent``, no processor called); a review makes the flow
authorize without capturing and opens a review that holds the capture.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from fastapi.responses import Response

from smartpay.cards.schemas import card_summary
from smartpay.connectors.facts import bin_of, issuer_country
from smartpay.dependencies import WriteContext
from smartpay.errors import CardError
from smartpay.events.service import EventBatch
from smartpay.kit.db import Session, snapshot
from smartpay.kit.ids import new_id
from smartpay.payments import repository as payments
from smartpay.payments.models import ChargeStatus, IntentStatus
from smartpay.payments.schemas import render_charge, render_payment_intent
from smartpay.payments.service import check_transition, new_charge_values
from smartpay.risk.features import FEATURE_NAMES
from smartpay.risk.reviews import open_review
from smartpay.risk.rules import DEFAULT_RULE_PREFIX, RiskAction
from smartpay.risk.service import Assessment, PaymentSignals, RiskService, stripe_outcome_fields

if TYPE_CHECKING:
    from smartpay.decisions.service import Ballot, DecisionService
    from smartpay.decisions.voters import DecisionRequest

# A blocked charge never reached a processor: this names who refused it.
RISK_PROCESSOR = "smartpay_risk"
BLOCK_DECLINE_CODE = "fraudulent"
BLOCK_MESSAGE = "Your card was declined."
# Metadata keys a merchant sets to pass the shopper's IP address and device id.
IP_METADATA_KEY = "ip_address"
DEVICE_METADATA_KEY = "device_id"


@dataclass(frozen=True, slots=True)
class RiskVerdict:
    assessment: Assessment
    # The review the consensus opened when it decided "review" (else the flow opens one).
    review_id: str | None = None

    @property
    def blocked(self) -> bool:
        return self.assessment.decision == "block"

    @property
    def held(self) -> bool:
        return self.assessment.decision == "review"


def signals_of(
    merchant_id: str,
    intent: Any,
    method: Any,
    card: Any,
    *,
    receipt_email: str | None,
    timestamp: float,
) -> PaymentSignals:
    """The payment's signals; the card number is read for its BIN and country only."""
    billing = method.billing_details or {}
    address = billing.get("address") or {}
    metadata = intent.metadata or {}
    return PaymentSignals(
        merchant_id=merchant_id,
        timestamp=timestamp,
        amount=intent.amount,
        currency=intent.currency,
        card_fingerprint=method.fingerprint,
        customer_id=intent.customer_id,
        email=receipt_email or intent.receipt_email or billing.get("email"),
        ip_address=str(metadata[IP_METADATA_KEY]) if metadata.get(IP_METADATA_KEY) else None,
        device_id=str(metadata[DEVICE_METADATA_KEY]) if metadata.get(DEVICE_METADATA_KEY) else None,
        bin=bin_of(card.number),
        card_country=issuer_country(card.number),
        billing_country=address.get("country"),
        card_brand=method.brand,
        card_funding=method.funding,
    )


async def assess_confirmation(
    risk: RiskService,
    session: Session,
    merchant_id: str,
    intent: Any,
    method: Any,
    card: Any,
    *,
    receipt_email: str | None,
    timestamp: float,
) -> RiskVerdict:
    signals = signals_of(
        merchant_id, intent, method, card, receipt_email=receipt_email, timestamp=timestamp
    )
    return RiskVerdict(await risk.assess(session, signals))


class BallotNeeded(Exception):
    """Raised inside phase one when the consensus needs LLM votes: the flow rolls the
    transaction back, collects the ballot with no transaction open (an LLM call must not
    hold database locks), and runs phase one again with it."""

    def __init__(self, request: DecisionRequest) -> None:
        super().__init__("the consensus needs a ballot")
        self.request = request


def _from_the_fast_path_only(assessment: Assessment) -> bool:
    """Lists and the merchant's own rules are vetoes: the consensus never overrides them.
    Only a decision of the default score bands (or no rule at all) is the consensus's."""
    return all(rule.startswith(DEFAULT_RULE_PREFIX) for rule in assessment.rules)


def consensus_request(
    decisions: DecisionService,
    merchant_id: str,
    intent: Any,
    method: Any,
    charge_id: str,
    verdict: RiskVerdict,
    *,
    warmup_days: float,
) -> DecisionRequest | None:
    """The consensus request of a grey-zone payment, or None when the fast path decides:
    outside the grey zone, after a list or merchant-rule decision, or before the merchant
    has the history the model's score needs (SMARTPAY_RISK_WARMUP_DAYS)."""
    assessment = verdict.assessment
    facts = assessment.facts
    if not decisions.in_grey_zone(assessment.score) or not _from_the_fast_path_only(assessment):
        return None
    # Written so that a merchant with no history yet (age NaN) counts as cold.
    if not float(facts.get("terminal_age_days", math.nan)) >= warmup_days:
        return None
    features = np.array([float(facts[name]) for name in FEATURE_NAMES], dtype=np.float64)
    request = decisions.payment_request(
        merchant_id=merchant_id,
        payment_intent_id=intent.id,
        score=assessment.score,
        fraud_probability=None,
        amount=intent.amount,
        currency=intent.currency,
        features=features,
        facts=dict(facts),
        context={
            # Masked only (the decisions context masks anything card-shaped again).
            "card": {
                "brand": method.brand,
                "last4": method.last4,
                "funding": method.funding,
                "country": facts.get("card_country"),
            },
            "description": intent.description,
            "metadata": intent.metadata or {},
            "risk": {"score": assessment.score, "features": list(assessment.features)},
        },
    )
    # One decision per confirmation attempt: a later confirmation with another card is
    # decided again rather than replaying this one.
    return dataclasses.replace(request, request_key=f"{request.key}:{charge_id}")


async def consult_consensus(
    decisions: DecisionService,
    session: Session,
    request: DecisionRequest,
    verdict: RiskVerdict,
    ballot: Ballot | None,
) -> RiskVerdict:
    """The consensus decides a grey-zone payment instead of the default score bands.
    Without a ``ballot`` and with LLM voters deciding within their budget, raises
    ``BallotNeeded``; local voters alone vote here, in microseconds."""
    from smartpay.decisions.kinds import Level

    if ballot is None:
        if decisions.payment_needs_llm_ballot():
            raise BallotNeeded(request)
        ballot = await decisions.vote_payment(request)
    record = await decisions.record(session, request, ballot)
    decisions_by_level: dict[Level, RiskAction] = {
        Level.FAVOURABLE: "allow",
        Level.REVIEW: "review",
        Level.UNFAVOURABLE: "block",
    }
    decision = decisions_by_level[record.level]
    review_id = next(
        (
            str(action["result"]["review"])
            for action in record.body.get("actions", [])
            if isinstance(action.get("result"), dict) and action["result"].get("review")
        ),
        None,
    )
    rules = tuple(r for r in verdict.assessment.rules if not r.startswith(DEFAULT_RULE_PREFIX))
    assessment = dataclasses.replace(
        verdict.assessment, decision=decision, rules=(*rules, f"consensus:{record.id}")
    )
    return RiskVerdict(assessment, review_id=review_id)


async def hold_for_review(
    session: Session, merchant_id: str, intent: Any, verdict: RiskVerdict, *, capture: bool
) -> str:
    """Open the review of a payment the flow authorizes without capturing (the consensus
    may have opened it already)."""
    if verdict.review_id is not None:
        return verdict.review_id
    assessment = verdict.assessment
    return await open_review(
        session,
        merchant_id=merchant_id,
        payment_intent_id=intent.id,
        reasons=list(assessment.rules),
        source="model" if assessment.rules[0].startswith(DEFAULT_RULE_PREFIX) else "rules",
        capture_on_approve=capture,
    )


async def decline_blocked(
    session: Session,
    ctx: WriteContext,
    intent: Any,
    method: Any,
    verdict: RiskVerdict,
    events: EventBatch,
    *,
    capture_method: str,
) -> Response:
    """Fail the confirmation as Stripe's Radar does: a failed charge of type ``blocked``."""
    risk = verdict.assessment.as_details()
    charge_id = new_id("ch")
    error = {
        "type": "card_error",
        "code": "card_declined",
        "decline_code": BLOCK_DECLINE_CODE,
        "message": BLOCK_MESSAGE,
        "charge": charge_id,
        "payment_method": {"id": method.id, "object": "payment_method"},
    }
    charge = new_charge_values(
        charge_id=charge_id,
        intent=intent,
        method=method,
        payment_method_details=card_summary(method),
        processor=RISK_PROCESSOR,
        created=int(verdict.assessment.scored_at),
        status=ChargeStatus.FAILED,
        failure_code="card_declined",
        failure_message=BLOCK_MESSAGE,
        outcome={
            "network_status": "not_sent_to_network",
            "reason": "highest_risk_level",
            **stripe_outcome_fields(risk),
            "seller_message": "SmartPay blocked this payment as too risky.",
            "type": "blocked",
        },
    )
    await payments.insert_charge(session, **charge)
    if intent.status != IntentStatus.REQUIRES_PAYMENT_METHOD:
        check_transition(intent.status, IntentStatus.REQUIRES_PAYMENT_METHOD)
    changes = {
        "status": IntentStatus.REQUIRES_PAYMENT_METHOD.value,
        "payment_method_id": method.id,
        "capture_method": capture_method,
        "latest_charge_id": charge_id,
        "last_payment_error": error,
        "next_action": None,
        "risk": risk,
    }
    await payments.update_intent(session, intent.id, **changes)
    updated = snapshot(intent, **changes)
    events.add("charge.failed", render_charge(snapshot(charge)))
    events.add("payment_intent.payment_failed", render_payment_intent(updated))
    await events.flush(session)
    card_error = CardError(
        BLOCK_MESSAGE,
        code="card_declined",
        decline_code=BLOCK_DECLINE_CODE,
        extra={"charge": charge_id, "payment_intent": render_payment_intent(updated)},
    )
    return await ctx.complete(session, card_error.http_status, card_error.to_body())
