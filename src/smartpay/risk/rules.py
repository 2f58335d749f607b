"""Risk rules: ordered conditions on features and payment attributes → allow, review, block.

A rule fires when all of its conditions hold. Rules are evaluated in order; every rule
that fires is reported (its id becomes a reason), and the first one decides the action.
A fact that is unknown for a payment (no IP address, a feature with no history: None or
NaN) satisfies no condition, whatever the operator, so a rule never fires on a guess.

This module is pure: no I/O, no settings. `facts.KNOWN_FACTS` lists the names a
condition may test; rules are validated when they are written, not when a payment runs.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from smartpay.risk.facts import KNOWN_FACTS, NUMERIC_FACTS

RiskAction = Literal["allow", "review", "block"]
RISK_ACTIONS: tuple[RiskAction, ...] = ("allow", "review", "block")

Operator = Literal["gt", "gte", "lt", "lte", "eq", "neq", "in", "not_in", "prefix"]
NUMERIC_OPERATORS = frozenset({"gt", "gte", "lt", "lte", "eq", "neq"})
TEXT_OPERATORS = frozenset({"eq", "neq", "in", "not_in", "prefix"})
LIST_OPERATORS = frozenset({"in", "not_in", "prefix"})

# Country codes are compared upper case (ISO 3166 alpha-2), everything else lower case.
_UPPER_CASE_FACTS = frozenset({"card_country", "ip_country", "billing_country"})
# A list in a condition is for a handful of countries or BINs, not a data set.
MAX_LIST_VALUES = 500
MAX_CONDITIONS = 20


class Condition(BaseModel):
    """One test on one fact, e.g. ``{"fact": "ip_country", "operator": "in", "value": ["NG"]}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fact: str
    operator: Operator
    value: float | str | tuple[str, ...]

    @model_validator(mode="before")
    @classmethod
    def _numbers_from_forms(cls, data: Any) -> Any:
        # Form-encoded requests carry every value as text: "950" for a number.
        if isinstance(data, dict) and data.get("fact") in NUMERIC_FACTS:
            value = data.get("value")
            if isinstance(value, str):
                with contextlib.suppress(ValueError):
                    data = {**data, "value": float(value)}
        return data

    @field_validator("fact")
    @classmethod
    def _known_fact(cls, fact: str) -> str:
        if fact not in KNOWN_FACTS:
            raise ValueError(f"unknown fact {fact!r}")
        return fact

    @model_validator(mode="after")
    def _operator_fits_fact(self) -> Condition:
        numeric = self.fact in NUMERIC_FACTS
        if numeric:
            if self.operator not in NUMERIC_OPERATORS:
                raise ValueError(f"{self.fact} is a number: use gt, gte, lt, lte, eq or neq")
            if not isinstance(self.value, int | float) or not math.isfinite(self.value):
                raise ValueError(f"{self.fact} is compared with a finite number")
            return self
        if self.operator not in TEXT_OPERATORS:
            raise ValueError(f"{self.fact} is text: use eq, neq, in, not_in or prefix")
        values = (self.value,) if isinstance(self.value, str) else self.value
        if isinstance(values, int | float) or not values:
            raise ValueError(f"{self.fact} is compared with text or a list of text")
        if self.operator in ("eq", "neq") and len(values) != 1:
            raise ValueError(f"{self.operator} takes one value")
        if len(values) > MAX_LIST_VALUES:
            raise ValueError(f"at most {MAX_LIST_VALUES} values")
        normalized = tuple(_normalize(self.fact, value) for value in values)
        if any(not value for value in normalized):
            raise ValueError("values must not be empty")
        # Frozen model: set the normalized value through the object's dict.
        object.__setattr__(
            self,
            "value",
            normalized if self.operator in LIST_OPERATORS else normalized[0],
        )
        return self

    def holds(self, facts: Mapping[str, Any]) -> bool:
        actual = facts.get(self.fact)
        if actual is None or (isinstance(actual, float) and math.isnan(actual)):
            return False
        if self.fact in NUMERIC_FACTS:
            if not isinstance(actual, int | float):
                return False
            return _compare_numbers(self.operator, float(actual), float(self.value))  # type: ignore[arg-type]
        if not isinstance(actual, str):
            return False
        text = _normalize(self.fact, actual)
        value = self.value
        if self.operator == "eq":
            return text == value
        if self.operator == "neq":
            return text != value
        assert isinstance(value, tuple)
        if self.operator == "in":
            return text in value
        if self.operator == "not_in":
            return text not in value
        return any(text.startswith(prefix) for prefix in value)


def _normalize(fact: str, value: str) -> str:
    value = value.strip()
    return value.upper() if fact in _UPPER_CASE_FACTS else value.lower()


def _compare_numbers(operator: str, actual: float, expected: float) -> bool:
    if operator == "gt":
        return actual > expected
    if operator == "gte":
        return actual >= expected
    if operator == "lt":
        return actual < expected
    if operator == "lte":
        return actual <= expected
    if operator == "eq":
        return actual == expected
    return actual != expected


class RiskRule(BaseModel):
    """A named, ordered rule: when every condition holds, take `action`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=64)
    description: str | None = Field(default=None, max_length=500)
    conditions: tuple[Condition, ...] = Field(min_length=1, max_length=MAX_CONDITIONS)
    action: RiskAction

    @model_validator(mode="after")
    def _amount_needs_currency(self) -> RiskRule:
        # Money is minor units plus a currency: "amount > 10000" means nothing without one.
        if any(condition.fact == "amount" for condition in self.conditions) and not any(
            condition.fact == "currency" and condition.operator == "eq"
            for condition in self.conditions
        ):
            raise ValueError("a condition on amount needs a currency eq condition in the rule")
        return self

    def fires(self, facts: Mapping[str, Any]) -> bool:
        return all(condition.holds(facts) for condition in self.conditions)


@dataclass(frozen=True)
class RuleOutcome:
    """Which rules fired, in order, and the action of the first one (None if none fired)."""

    action: RiskAction | None
    fired: tuple[str, ...]


def evaluate_rules(rules: Sequence[RiskRule], facts: Mapping[str, Any]) -> RuleOutcome:
    """Evaluate `rules` in order against `facts` (feature names and payment attributes)."""
    fired = tuple(rule.id for rule in rules if rule.fires(facts))
    if not fired:
        return RuleOutcome(action=None, fired=())
    first = fired[0]
    action = next(rule.action for rule in rules if rule.id == first)
    return RuleOutcome(action=action, fired=fired)


# The defaults. A score s flags about (1000 - s) / 1000 of legitimate traffic at
# or above it (model.ScoreCalibration), so >= 950 blocks at most ~5 % of good payments and
# 750-949 sends at most a further ~20 % to review.
DEFAULT_BLOCK_SCORE = 950
DEFAULT_REVIEW_SCORE = 750
# The score decides only once the merchant has this many days of traffic: the model was
# trained on terminals with history, and until the label delay (7 days) has passed a
# merchant's fraud-share features are undefined, which the model reads as risk. Before
# that, the score is computed and reported, and only the merchant's rules and lists act.
DEFAULT_WARMUP_DAYS = 8


# The ids of the default rules start with this: what SmartPay decides, not the merchant.
DEFAULT_RULE_PREFIX = "default_"


def score_rules(
    block_score: int = DEFAULT_BLOCK_SCORE,
    review_score: int = DEFAULT_REVIEW_SCORE,
    warmup_days: float = DEFAULT_WARMUP_DAYS,
) -> tuple[RiskRule, ...]:
    """The default rules: block, then review, above a score, once the merchant is warm."""
    warm = Condition(fact="terminal_age_days", operator="gte", value=warmup_days)
    return (
        RiskRule(
            id=f"{DEFAULT_RULE_PREFIX}block_high_score",
            description=f"Block payments scoring {block_score} or more",
            conditions=(Condition(fact="score", operator="gte", value=block_score), warm),
            action="block",
        ),
        RiskRule(
            id=f"{DEFAULT_RULE_PREFIX}review_elevated_score",
            description=f"Review payments scoring {review_score} or more",
            conditions=(Condition(fact="score", operator="gte", value=review_score), warm),
            action="review",
        ),
    )


DEFAULT_RULES: tuple[RiskRule, ...] = score_rules()
