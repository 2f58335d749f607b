"""Request models of the risk API, and how its objects are rendered."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from smartpay.kit.pagination import ListParams
from smartpay.kit.params import Email, StripeParams
from smartpay.risk.models import ListAction, ListKind, ReviewStatus
from smartpay.risk.rules import MAX_CONDITIONS, RiskAction

MAX_RULES_PER_MERCHANT = 100


class ConditionParams(BaseModel):
    fact: str = Field(max_length=64)
    operator: str = Field(max_length=16)
    value: float | str | list[str]


class RuleCreate(StripeParams):
    conditions: list[ConditionParams] = Field(min_length=1, max_length=MAX_CONDITIONS)
    action: RiskAction
    description: str | None = Field(default=None, max_length=500)
    # 0-based place in the evaluation order; default: after the merchant's other rules.
    position: int | None = Field(default=None, ge=0, le=MAX_RULES_PER_MERCHANT)
    enabled: bool = True


class RuleUpdate(StripeParams):
    conditions: list[ConditionParams] | None = Field(
        default=None, min_length=1, max_length=MAX_CONDITIONS
    )
    action: RiskAction | None = None
    description: str | None = Field(default=None, max_length=500)
    position: int | None = Field(default=None, ge=0, le=MAX_RULES_PER_MERCHANT)
    enabled: bool | None = None


class ListEntryCreate(StripeParams):
    kind: ListKind
    value: str = Field(min_length=1, max_length=320)
    action: ListAction
    description: str | None = Field(default=None, max_length=500)


class ListEntryList(ListParams, StripeParams):
    kind: ListKind | None = None


class ReviewList(ListParams, StripeParams):
    status: ReviewStatus | None = None


class ReviewClose(StripeParams):
    pass


class FraudFeedback(StripeParams):
    # Stripe's vocabulary for a payment's truth: fraudulent, or safe after all.
    label: Literal["fraudulent", "safe"]


class RiskAssess(StripeParams):
    """A payment that does not exist yet (the seed's /fraud): scored, not recorded."""

    amount: int = Field(gt=0, le=10**12)
    currency: str = Field(min_length=3, max_length=3)
    payment_method: str | None = Field(default=None, max_length=40)
    customer: str | None = Field(default=None, max_length=40)
    email: Email | None = None
    ip_address: str | None = Field(default=None, max_length=45)
    device_id: str | None = Field(default=None, max_length=200)
    billing_country: str | None = Field(default=None, min_length=2, max_length=2)


def render_rule(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "object": "risk_rule",
        "position": row.position,
        "description": row.description,
        "conditions": row.conditions,
        "action": row.action,
        "enabled": row.enabled,
        "created": row.created,
        "livemode": False,
    }


def render_list_entry(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "object": "risk_list_entry",
        "kind": row.kind,
        "value": row.value,
        "action": row.action,
        "description": row.description,
        "created": row.created,
        "livemode": False,
    }
