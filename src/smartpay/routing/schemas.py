"""A merchant's routing configuration, and the request and response bodies of /v1/routing.

The configuration (JSON through ``POST /v1/routing/config``, or a file named by
``SMARTPAY_ROUTING_CONFIG_FILE``)::

    {
      "rules": [
        {"id": "eu-cards", "when": {"card_country": ["DE", "FR"], "currency": ["eur"]},
         "route": {"processor": "acquirer_eu"}},
        {"id": "ab-test", "when": {"amount": {"gte": 10000}},
         "route": {"split": {"acquirer_a": 70, "acquirer_b": 30}}},
        {"id": "amex", "when": {"card_brand": ["amex"]},
         "route": {"fallback": ["acquirer_b", "acquirer_a"], "then": "none"}}
      ],
      "strategy": "smart",
      "processors": ["acquirer_a", "acquirer_b", "acquirer_eu"]
    }

Rules are tried in order; the first whose every condition holds decides the head of the
processor list. ``then`` says what follows it: ``"strategy"`` (default) the other
processors as the strategy ranks them, ``"none"`` nothing (no cascade beyond the rule).
With no matching rule the strategy ranks everything: ``smart`` (the bandit) or
``priority`` (the order of ``processors``, or of SMARTPAY_PROCESSORS).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from smartpay.kit.money import SUPPORTED_CURRENCIES
from smartpay.kit.params import StripeParams

# A BIN range is two equal-length digit strings of 6 to 8 digits (ISO/IEC 7812 BINs are
# 8 digits since 2022; most processors still publish 6), or one such prefix.
_BIN_RANGE = re.compile(r"^(\d{6,8})(?:-(\d{6,8}))?$")
MAX_RULES = 200  # a merchant's list, evaluated on every payment: keep it readable
PERCENT = 100

RuleId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}$")]
ProcessorName = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Code = Annotated[str, StringConstraints(min_length=1, max_length=40)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AmountCondition(_Strict):
    gte: int | None = None
    gt: int | None = None
    lte: int | None = None
    lt: int | None = None

    def holds(self, amount: int) -> bool:
        return (
            (self.gte is None or amount >= self.gte)
            and (self.gt is None or amount > self.gt)
            and (self.lte is None or amount <= self.lte)
            and (self.lt is None or amount < self.lt)
        )


class Conditions(_Strict):
    """Every condition given must hold. Lists mean "one of"."""

    amount: AmountCondition | None = None
    currency: list[Code] | None = Field(default=None, min_length=1)
    card_brand: list[Code] | None = Field(default=None, min_length=1)
    card_country: list[Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2}$")]] | None = Field(
        default=None, min_length=1
    )
    bin_range: list[str] | None = Field(default=None, min_length=1)
    customer: list[Annotated[str, StringConstraints(max_length=255)]] | None = Field(
        default=None, min_length=1
    )
    metadata: dict[str, str] | None = None

    @model_validator(mode="after")
    def _normalise(self) -> Conditions:
        if self.currency is not None:
            self.currency = [code.lower() for code in self.currency]
            unknown = [code for code in self.currency if code not in SUPPORTED_CURRENCIES]
            if unknown:
                raise ValueError(f"unsupported currency {unknown[0]!r}")
        if self.card_brand is not None:
            self.card_brand = [brand.lower() for brand in self.card_brand]
        if self.card_country is not None:
            self.card_country = [country.upper() for country in self.card_country]
        for text in self.bin_range or []:
            match = _BIN_RANGE.fullmatch(text)
            if match is None or (match.group(2) and len(match.group(2)) != len(match.group(1))):
                raise ValueError(
                    f"bin_range {text!r} must be a 6-8 digit prefix or 'low-high' of equal length"
                )
            if match.group(2) and match.group(2) < match.group(1):
                raise ValueError(f"bin_range {text!r} runs backwards")
        return self

    def bin_matches(self, bin_digits: str | None) -> bool:
        if self.bin_range is None:
            return True
        if not bin_digits:
            return False
        for text in self.bin_range:
            low, _, high = text.partition("-")
            prefix = bin_digits[: len(low)]
            if high:
                if low <= prefix <= high:
                    return True
            elif prefix == low:
                return True
        return False


class Route(_Strict):
    """Exactly one of ``processor``, ``split`` (percentages summing to 100) or
    ``fallback`` (an ordered list)."""

    processor: ProcessorName | None = None
    split: dict[ProcessorName, Annotated[int, Field(gt=0, le=PERCENT)]] | None = None
    fallback: list[ProcessorName] | None = Field(default=None, min_length=1)
    then: Literal["strategy", "none"] = "strategy"

    @model_validator(mode="after")
    def _one_kind(self) -> Route:
        given = [name for name in ("processor", "split", "fallback") if getattr(self, name)]
        if len(given) != 1:
            raise ValueError("give exactly one of processor, split or fallback")
        if self.split is not None and sum(self.split.values()) != PERCENT:
            raise ValueError(
                f"split percentages must add up to 100, not {sum(self.split.values())}"
            )
        if self.fallback is not None and len(set(self.fallback)) != len(self.fallback):
            raise ValueError("fallback names a processor twice")
        return self

    def processors(self) -> list[str]:
        if self.processor is not None:
            return [self.processor]
        if self.split is not None:
            return list(self.split)
        return list(self.fallback or [])


class Rule(_Strict):
    id: RuleId
    when: Conditions = Field(default_factory=Conditions)
    route: Route


class RoutingConfig(_Strict):
    rules: list[Rule] = Field(default_factory=list, max_length=MAX_RULES)
    strategy: Literal["smart", "priority"] = "smart"
    processors: list[ProcessorName] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> RoutingConfig:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise ValueError(f"rule id {rule.id!r} is used twice")
            seen.add(rule.id)
        return self


class RoutingConfigBody(RoutingConfig, StripeParams):
    """``POST /v1/routing/config``: the whole configuration, replacing the stored one."""

    model_config = ConfigDict(extra="forbid")


class DecideBody(StripeParams):
    """``POST /v1/routing/decide``: a hypothetical payment. Nothing is charged."""

    amount: int
    currency: str = Field(max_length=8)
    card_brand: str | None = Field(default=None, max_length=40)
    card_country: str | None = Field(default=None, pattern=r"^[A-Za-z]{2}$")
    bin: str | None = Field(default=None, pattern=r"^\d{6,8}$")
    payment_method: str | None = Field(default=None, max_length=255)
    customer: str | None = Field(default=None, max_length=255)
    metadata: dict[str, str] | None = None


def render_config(
    merchant_id: str, config: RoutingConfig, source: str, updated: int | None
) -> dict[str, Any]:
    return {
        "object": "routing_config",
        "account": merchant_id,
        "source": source,  # "api", "file" or "default"
        "updated": updated,
        **config.model_dump(mode="json", exclude_none=True),
    }
