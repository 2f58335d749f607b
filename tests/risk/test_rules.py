"""Rules: validation, ordering, unknown facts, defaults."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from smartpay.risk.rules import DEFAULT_RULES, Condition, RiskRule, evaluate_rules


def rule(rule_id: str, action: str, *conditions: dict[str, object]) -> RiskRule:
    return RiskRule.model_validate({"id": rule_id, "action": action, "conditions": conditions})


def test_first_rule_that_fires_decides_and_every_fired_rule_is_reported() -> None:
    rules = [
        rule("allow_gb", "allow", {"fact": "ip_country", "operator": "in", "value": ["gb"]}),
        rule(
            "review_fast",
            "review",
            {"fact": "velocity_card_count_1h", "operator": "gte", "value": 3},
        ),
        rule(
            "block_fast", "block", {"fact": "velocity_card_count_1h", "operator": "gte", "value": 5}
        ),
    ]
    outcome = evaluate_rules(rules, {"ip_country": "FR", "velocity_card_count_1h": 6})
    assert outcome.action == "review"
    assert outcome.fired == ("review_fast", "block_fast")
    assert (
        evaluate_rules(rules, {"ip_country": "GB", "velocity_card_count_1h": 6}).action == "allow"
    )
    assert evaluate_rules(rules, {"ip_country": "FR", "velocity_card_count_1h": 1}).action is None


def test_unknown_facts_never_fire() -> None:
    not_in = rule("not_us", "block", {"fact": "ip_country", "operator": "not_in", "value": ["US"]})
    assert evaluate_rules([not_in], {}).fired == ()
    assert evaluate_rules([not_in], {"ip_country": None}).fired == ()
    low = rule("low", "review", {"fact": "customer_amount_zscore", "operator": "lt", "value": 1})
    assert evaluate_rules([low], {"customer_amount_zscore": math.nan}).fired == ()


def test_bin_prefix_email_domain_and_amount_with_currency() -> None:
    rules = [
        rule(
            "big_usd",
            "review",
            {"fact": "amount", "operator": "gt", "value": 100_000},
            {"fact": "currency", "operator": "eq", "value": "USD"},
        ),
        rule("bin", "block", {"fact": "bin", "operator": "prefix", "value": ["4000"]}),
        rule("mail", "block", {"fact": "email_domain", "operator": "in", "value": ["Evil.test"]}),
    ]
    assert evaluate_rules(rules, {"amount": 200_000, "currency": "usd"}).fired == ("big_usd",)
    assert evaluate_rules(rules, {"amount": 200_000, "currency": "eur"}).fired == ()
    assert evaluate_rules(rules, {"bin": "400000"}).fired == ("bin",)
    assert evaluate_rules(rules, {"email_domain": "evil.test"}).fired == ("mail",)


@pytest.mark.parametrize(
    "conditions",
    [
        [{"fact": "no_such_fact", "operator": "eq", "value": "x"}],
        [{"fact": "score", "operator": "in", "value": ["1"]}],
        [{"fact": "ip_country", "operator": "gt", "value": 3}],
        [{"fact": "amount", "operator": "gt", "value": 10}],  # no currency
        [{"fact": "score", "operator": "gte", "value": "high"}],
        [],
    ],
)
def test_invalid_rules_are_refused(conditions: list[dict[str, object]]) -> None:
    with pytest.raises(ValidationError):
        RiskRule.model_validate({"id": "r", "action": "block", "conditions": conditions})


def test_numbers_arrive_as_text_from_forms() -> None:
    condition = Condition.model_validate({"fact": "score", "operator": "gte", "value": "900"})
    assert condition.value == 900.0


def test_defaults_block_at_950_and_review_at_750_once_the_merchant_is_warm() -> None:
    warm = {"terminal_age_days": 30.0}
    assert evaluate_rules(DEFAULT_RULES, {**warm, "score": 950}).action == "block"
    assert evaluate_rules(DEFAULT_RULES, {**warm, "score": 949}).action == "review"
    assert evaluate_rules(DEFAULT_RULES, {**warm, "score": 750}).action == "review"
    assert evaluate_rules(DEFAULT_RULES, {**warm, "score": 749}).action is None
    assert evaluate_rules(DEFAULT_RULES, {"terminal_age_days": 1.0, "score": 999}).action is None
