"""Request models of the decisions API."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, StringConstraints, field_validator

from smartpay.decisions.kinds import DecisionKind
from smartpay.decisions.strategies import STRATEGIES
from smartpay.kit.pagination import CreatedFilter, ListParams, UnixTime
from smartpay.kit.params import ObjectId, StripeParams

Label = Annotated[str, StringConstraints(min_length=1, max_length=16)]
# A context of the same shape limits as metadata, one level of nesting more.
MAX_CONTEXT_KEYS = 50


class DecisionCreate(StripeParams):
    kind: DecisionKind
    subject: ObjectId
    context: dict[str, Any] = Field(default_factory=dict)
    amount: int | None = Field(default=None, ge=0, le=2**53)
    currency: str | None = Field(default=None, pattern="^[a-zA-Z]{3}$")
    # Same key, same decision (default: one decision per kind and subject).
    request_key: str | None = Field(default=None, min_length=1, max_length=200)

    @field_validator("context")
    @classmethod
    def _bounded(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(value) > MAX_CONTEXT_KEYS:
            raise ValueError(f"context can have at most {MAX_CONTEXT_KEYS} keys")
        return value


class DecisionList(ListParams, StripeParams):
    kind: DecisionKind | None = None
    subject: ObjectId | None = None
    outcome: Label | None = None
    escalated: bool | None = None
    created: CreatedFilter | UnixTime | None = None


class GroundTruthCreate(StripeParams):
    ground_truth: Label
    source: Annotated[str, StringConstraints(min_length=1, max_length=64)] = "manual"


class PolicyUpdate(StripeParams):
    strategy: str | None = Field(default=None, max_length=32)
    weights: dict[Annotated[str, StringConstraints(max_length=64)], float] | None = None

    @field_validator("strategy")
    @classmethod
    def _known(cls, value: str | None) -> str | None:
        if value is not None and value not in STRATEGIES:
            raise ValueError(f"must be one of {', '.join(STRATEGIES)}")
        return value

    @field_validator("weights")
    @classmethod
    def _non_negative(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        if value is not None and any(weight < 0 or weight > 100 for weight in value.values()):
            raise ValueError("weights are between 0 and 100")
        return value


class PolicyLearn(StripeParams):
    pass
