"""Merchant-facing risk operations: rules, allow/block lists, reviews and fraud labels.

Each function takes the session and never commits; reviews move the payment on through
`PaymentFlows` (capture on approve; cancel or refund on reject) after their own commit.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from fastapi.responses import Response

from smartpay.dependencies import WriteContext
from smartpay.errors import InvalidRequest, InvalidState, ResourceMissing
from smartpay.kit.api import validate_params
from smartpay.kit.clock import now
from smartpay.kit.db import Database, Session, snapshot
from smartpay.kit.ids import new_id
from smartpay.kit.money import normalize_currency
from smartpay.payments.flows import PaymentFlows
from smartpay.payments.models import IntentStatus
from smartpay.payments.schemas import PaymentIntentCancel, PaymentIntentCapture, RefundCreate
from smartpay.payments.service import get_intent
from smartpay.risk import repository
from smartpay.risk.models import LabelSource, ListKind, ReviewStatus
from smartpay.risk.reviews import render_review
from smartpay.risk.rules import RiskRule
from smartpay.risk.schemas import (
    MAX_RULES_PER_MERCHANT,
    ConditionParams,
    ListEntryCreate,
    RiskAssess,
    RuleCreate,
    RuleUpdate,
)
from smartpay.risk.service import Assessment, PaymentSignals, RiskService

RULE_ID_PREFIX = "rsk_rule"
LIST_ENTRY_ID_PREFIX = "rsk_list"

# ----------------------------------------------------------------- rules


def _validated_rule(
    rule_id: str, conditions: list[ConditionParams], action: str, description: str | None
) -> RiskRule:
    """The rule as the engine will run it; bad input is a 400 naming the parameter."""
    return validate_params(
        RiskRule,
        {
            "id": rule_id,
            "description": description,
            "conditions": [condition.model_dump() for condition in conditions],
            "action": action,
        },
    )


def _stored_conditions(rule: RiskRule) -> list[dict[str, Any]]:
    return [
        {
            "fact": condition.fact,
            "operator": condition.operator,
            "value": list(condition.value)
            if isinstance(condition.value, tuple)
            else condition.value,
        }
        for condition in rule.conditions
    ]


async def _reorder(session: Session, merchant_id: str, rule_id: str, position: int | None) -> None:
    """Put `rule_id` at `position` (None: last) and number every rule 0, 1, 2... again."""
    rows = await repository.merchant_rules(session, merchant_id)
    ids = [row.id for row in rows if row.id != rule_id]
    ids.insert(len(ids) if position is None else min(position, len(ids)), rule_id)
    current = {row.id: row.position for row in rows}
    for index, each in enumerate(ids):
        if current.get(each) != index:
            await repository.update_rule(session, each, position=index)


async def create_rule(
    session: Session, risk: RiskService | None, merchant_id: str, params: RuleCreate
) -> Any:
    if await repository.rule_count(session, merchant_id) >= MAX_RULES_PER_MERCHANT:
        raise InvalidRequest(f"A merchant has at most {MAX_RULES_PER_MERCHANT} risk rules.")
    rule_id = new_id(RULE_ID_PREFIX)
    rule = _validated_rule(rule_id, params.conditions, params.action, params.description)
    values = {
        "id": rule_id,
        "merchant_id": merchant_id,
        "position": MAX_RULES_PER_MERCHANT,
        "description": rule.description,
        "conditions": _stored_conditions(rule),
        "action": rule.action,
        "enabled": params.enabled,
        "created": now(),
    }
    await repository.insert_rule(session, **values)
    await _reorder(session, merchant_id, rule_id, params.position)
    _forget(risk, merchant_id)
    return await get_rule(session, merchant_id, rule_id)


async def get_rule(session: Session, merchant_id: str, rule_id: str) -> Any:
    row = await repository.get_rule(session, merchant_id, rule_id)
    if row is None:
        raise ResourceMissing(f"No such risk rule: '{rule_id}'", param="rule")
    return row


async def update_rule(
    session: Session, risk: RiskService | None, merchant_id: str, rule_id: str, params: RuleUpdate
) -> Any:
    row = await get_rule(session, merchant_id, rule_id)
    conditions = (
        params.conditions
        if params.conditions is not None
        else [ConditionParams.model_validate(condition) for condition in row.conditions]
    )
    fields = params.model_fields_set
    description = params.description if "description" in fields else row.description
    rule = _validated_rule(rule_id, conditions, params.action or row.action, description)
    changes: dict[str, Any] = {
        "conditions": _stored_conditions(rule),
        "action": rule.action,
        "description": rule.description,
    }
    if params.enabled is not None:
        changes["enabled"] = params.enabled
    await repository.update_rule(session, rule_id, **changes)
    if params.position is not None:
        await _reorder(session, merchant_id, rule_id, params.position)
    _forget(risk, merchant_id)
    return await get_rule(session, merchant_id, rule_id)


async def delete_rule(
    session: Session, risk: RiskService | None, merchant_id: str, rule_id: str
) -> dict[str, Any]:
    await get_rule(session, merchant_id, rule_id)
    await repository.delete_rule(session, rule_id)
    _forget(risk, merchant_id)
    return {"id": rule_id, "object": "risk_rule", "deleted": True}


def _forget(risk: RiskService | None, merchant_id: str) -> None:
    if risk is not None:
        risk.forget_rules(merchant_id)


# ----------------------------------------------------------------- lists


def normalized_list_value(kind: ListKind, value: str) -> str:
    value = value.strip()
    if kind is ListKind.EMAIL:
        if "@" not in value:
            raise InvalidRequest("An e-mail list entry needs an e-mail address.", param="value")
        return value.lower()
    if kind is ListKind.BIN and not (value.isdigit() and 6 <= len(value) <= 8):
        raise InvalidRequest("A BIN is 6 to 8 digits.", param="value")
    if kind is ListKind.IP_ADDRESS:
        import ipaddress

        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            raise InvalidRequest("Not an IP address.", param="value") from None
    return value


async def create_list_entry(session: Session, merchant_id: str, params: ListEntryCreate) -> Any:
    values = {
        "id": new_id(LIST_ENTRY_ID_PREFIX),
        "merchant_id": merchant_id,
        "kind": params.kind.value,
        "value": normalized_list_value(params.kind, params.value),
        "action": params.action.value,
        "description": params.description,
        "created": now(),
    }
    if not await repository.insert_list_entry(session, **values):
        raise InvalidRequest(
            f"This {params.kind.value} is already on a list; delete that entry first.",
            param="value",
        )
    return snapshot(values)


async def delete_list_entry(session: Session, merchant_id: str, entry_id: str) -> dict[str, Any]:
    row = await repository.get_list_entry(session, merchant_id, entry_id)
    if row is None:
        raise ResourceMissing(f"No such risk list entry: '{entry_id}'", param="id")
    await repository.delete_list_entry(session, entry_id)
    return {"id": entry_id, "object": "risk_list_entry", "deleted": True}


# ----------------------------------------------------------------- labels


async def signals_of_payment(session: Session, intent: Any) -> PaymentSignals:
    """The signals a past payment was scored with, as far as they can be read back."""
    fingerprint = (
        await repository.payment_method_fingerprint(
            session, intent.merchant_id, intent.payment_method_id
        )
        if intent.payment_method_id
        else None
    )
    scored_at = (intent.risk or {}).get("scored_at") or float(intent.created)
    return PaymentSignals(
        merchant_id=intent.merchant_id,
        timestamp=float(scored_at),
        amount=intent.amount,
        currency=intent.currency,
        card_fingerprint=fingerprint,
        customer_id=intent.customer_id,
    )


async def record_label(
    session: Session,
    risk: RiskService | None,
    intent: Any,
    *,
    is_fraud: bool,
    source: LabelSource,
) -> None:
    """Store what is now known of a payment; a change of fraud label feeds the features."""
    previous = await repository.get_label(session, intent.id)
    await repository.put_label(
        session,
        payment_intent_id=intent.id,
        merchant_id=intent.merchant_id,
        is_fraud=is_fraud,
        source=source.value,
        created=now(),
    )
    already_fraud = previous is not None and previous.is_fraud
    if risk is None or intent.risk is None or is_fraud == already_fraud:
        return
    # Counters count frauds only (unlabelled counts as legitimate): a fraud label adds
    # the payment to them once, and withdrawing it (fraud → safe) takes it out again.
    signals = await signals_of_payment(session, intent)
    if is_fraud:
        await risk.record_fraud(session, signals)
    else:
        await risk.forget_fraud(session, signals)


def render_label(intent_id: str, is_fraud: bool, source: str) -> dict[str, Any]:
    return {
        "object": "fraud_feedback",
        "payment_intent": intent_id,
        "label": "fraudulent" if is_fraud else "safe",
        "source": source,
    }


# ----------------------------------------------------------------- reviews


def _derived(ctx: WriteContext, suffix: str) -> WriteContext:
    """The payment operation a review decision starts gets its own idempotency key."""
    key = f"{ctx.idempotency_key}:{suffix}" if ctx.idempotency_key else None
    return dataclasses.replace(ctx, idempotency_key=key)


async def close_review(
    ctx: WriteContext,
    database: Database,
    flows: PaymentFlows,
    risk: RiskService | None,
    review_id: str,
    *,
    approve: bool,
) -> dict[str, Any]:
    merchant_id = ctx.merchant.merchant_id
    async with database.transaction() as session:
        review = await repository.get_review(session, merchant_id, review_id, for_update=True)
        if review is None:
            raise ResourceMissing(f"No such review: '{review_id}'", param="review")
        if review.status != ReviewStatus.OPEN.value:
            raise InvalidState(
                f"This review is already {review.status}.", code="review_already_closed"
            )
        status = ReviewStatus.APPROVED if approve else ReviewStatus.REJECTED
        await repository.close_review(
            session, review_id, status=status.value, reason=status.value, closed_at=now()
        )
        intent = await get_intent(session, merchant_id, review.payment_intent_id)
        await record_label(session, risk, intent, is_fraud=not approve, source=LabelSource.REVIEW)
    # The review is decided; now move the payment on, each step idempotent on its own.
    if approve:
        if review.capture_on_approve and intent.status == IntentStatus.REQUIRES_CAPTURE.value:
            await _checked(
                await flows.capture(_derived(ctx, "capture"), intent.id, PaymentIntentCapture())
            )
    elif intent.status in (
        IntentStatus.REQUIRES_CAPTURE.value,
        IntentStatus.REQUIRES_CONFIRMATION.value,
        IntentStatus.REQUIRES_PAYMENT_METHOD.value,
        IntentStatus.REQUIRES_ACTION.value,
    ):
        await _checked(
            await flows.cancel(
                _derived(ctx, "cancel"),
                intent.id,
                PaymentIntentCancel(cancellation_reason="fraudulent"),
            )
        )
    elif intent.status == IntentStatus.SUCCEEDED.value:
        await _checked(
            await flows.refund(
                _derived(ctx, "refund"),
                RefundCreate(payment_intent=intent.id, reason="fraudulent"),
            )
        )
    async with database.transaction() as session:
        closed = await repository.get_review(session, merchant_id, review_id)
    return render_review(closed)


async def _checked(response: Response) -> None:
    """A payment step that answered with an error is the review request's error too."""
    if response.status_code >= 400:
        import orjson

        from smartpay.errors import SmartPayError

        body = orjson.loads(bytes(response.body))
        error = SmartPayError(body.get("error", {}).get("message", "payment step failed"))
        error.http_status = response.status_code  # type: ignore[misc]
        raise error


# ----------------------------------------------------------------- assess


async def assess_unrecorded(
    session: Session, risk: RiskService, merchant_id: str, params: RiskAssess
) -> Assessment:
    currency = normalize_currency(params.currency)
    fingerprint = bin_value = brand = funding = billing_country = None
    if params.payment_method:
        method = await repository.payment_method_row(session, merchant_id, params.payment_method)
        if method is None:
            raise ResourceMissing(
                f"No such payment_method: '{params.payment_method}'", param="payment_method"
            )
        fingerprint, brand, funding = method.fingerprint, method.brand, method.funding
        billing_country = ((method.billing_details or {}).get("address") or {}).get("country")
    signals = PaymentSignals(
        merchant_id=merchant_id,
        timestamp=time.time(),
        amount=params.amount,
        currency=currency,
        card_fingerprint=fingerprint,
        customer_id=params.customer,
        email=params.email,
        ip_address=params.ip_address,
        device_id=params.device_id,
        bin=bin_value,
        billing_country=params.billing_country or billing_country,
        card_brand=brand,
        card_funding=funding,
    )
    return await risk.assess(session, signals, record=False)
