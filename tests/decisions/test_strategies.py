"""Strategies: majority, weighted, weighted average, hybrid (vetoes, quorum, spread),
unanimity above an amount, ties, abstentions, and weights learnt from ground truth."""

from __future__ import annotations

import math

import pytest

from smartpay.decisions.kinds import Level
from smartpay.decisions.models import VoteStatus
from smartpay.decisions.strategies import (
    MAX_WEIGHT,
    MIN_WEIGHT,
    StrategyParams,
    VoterRecord,
    combine,
    learn_weights,
    vote_credit,
)
from tests.decisions.fakes import vote

PARAMS = StrategyParams(review_threshold=0.1, decline_threshold=0.5, spread_threshold=0.7)


def test_majority_takes_the_most_common_level() -> None:
    votes = [vote("a", "decline", 0.9), vote("b", "decline", 0.8), vote("c", "approve", 0.0)]
    assert combine("majority", votes, PARAMS).level is Level.UNFAVOURABLE


def test_a_tie_goes_to_review() -> None:
    votes = [vote("a", "decline", 0.9), vote("b", "approve", 0.0)]
    outcome = combine("majority", votes, PARAMS)
    assert outcome.level is Level.REVIEW
    assert outcome.escalated
    assert outcome.explanation.startswith("tie")


def test_abstentions_do_not_count() -> None:
    votes = [
        vote("a", "approve", 0.01),
        vote("b", None, status=VoteStatus.INVALID),
        vote("c", None, status=VoteStatus.TIMEOUT),
    ]
    assert combine("majority", votes, PARAMS).level is Level.FAVOURABLE


def test_no_valid_vote_goes_to_review() -> None:
    votes = [vote("a", None, status=VoteStatus.FAILED)]
    for strategy in ("majority", "weighted", "weighted_average", "hybrid"):
        outcome = combine(strategy, votes, PARAMS)
        assert outcome.level is Level.REVIEW
        assert outcome.escalated


def test_weights_break_what_a_majority_would_decide() -> None:
    votes = [vote("strong", "decline", 0.9), vote("weak1", "approve"), vote("weak2", "approve")]
    params = StrategyParams(weights={"strong": 3.0, "weak1": 1.0, "weak2": 1.0})
    assert combine("majority", votes, params).level is Level.FAVOURABLE
    assert combine("weighted", votes, params).level is Level.UNFAVOURABLE


@pytest.mark.parametrize(
    ("risks", "expected"),
    [
        ((0.01, 0.05), Level.FAVOURABLE),
        ((0.1, 0.2), Level.REVIEW),
        ((0.5, 0.7), Level.UNFAVOURABLE),
    ],
)
def test_weighted_average_against_thresholds(risks: tuple[float, float], expected: Level) -> None:
    votes = [vote("a", "review", risks[0]), vote("b", "review", risks[1])]
    assert combine("weighted_average", votes, PARAMS).level is expected


def test_weighted_average_uses_weights() -> None:
    votes = [vote("a", "approve", 0.0), vote("b", "decline", 0.9)]
    params = StrategyParams(weights={"a": 8.0, "b": 1.0}, review_threshold=0.2)
    outcome = combine("weighted_average", votes, params)
    assert outcome.risk is not None and math.isclose(outcome.risk, 0.1)
    assert outcome.level is Level.FAVOURABLE


def test_hybrid_veto_cannot_be_outvoted() -> None:
    votes = [
        vote("rules", "decline", 0.99, veto=True),
        vote("a", "approve", 0.0),
        vote("b", "approve", 0.0),
        vote("c", "approve", 0.0),
    ]
    params = StrategyParams(weights={"rules": 0.1, "a": 5, "b": 5, "c": 5})
    outcome = combine("hybrid", votes, params)
    assert outcome.level is Level.UNFAVOURABLE
    assert "veto by rules" in outcome.explanation
    assert combine("weighted_average", votes, params).level is Level.FAVOURABLE


def test_hybrid_quorum_failure_escalates_to_review() -> None:
    votes = [vote("a", "approve", 0.0), vote("b", None, status=VoteStatus.TIMEOUT)]
    outcome = combine("hybrid", votes, StrategyParams(quorum=2))
    assert outcome.level is Level.REVIEW
    assert outcome.escalated
    assert "quorum" in outcome.explanation


def test_hybrid_spread_escalates_to_review() -> None:
    votes = [vote("a", "approve", 0.0), vote("b", "decline", 0.95)]
    outcome = combine("hybrid", votes, PARAMS)
    assert outcome.level is Level.REVIEW
    assert "disagree" in outcome.explanation


def test_hybrid_agreeing_votes_use_the_weighted_average() -> None:
    votes = [vote("a", "approve", 0.01), vote("b", "approve", 0.03)]
    outcome = combine("hybrid", votes, PARAMS)
    assert outcome.level is Level.FAVOURABLE
    assert outcome.explanation.startswith("weighted average")


def test_unanimity_above_the_amount() -> None:
    votes = [vote("a", "approve", 0.0), vote("b", "approve", 0.0), vote("c", "review", 0.3)]
    params = StrategyParams(unanimity_amount=100_000)
    assert combine("majority", votes, params, amount=99_999).level is Level.FAVOURABLE
    outcome = combine("majority", votes, params, amount=100_000)
    assert outcome.level is Level.REVIEW
    assert "dissent: c" in outcome.explanation
    unanimous = [vote("a", "approve", 0.0), vote("b", "approve", 0.0)]
    assert combine("majority", unanimous, params, amount=10**7).level is Level.FAVOURABLE


def test_unknown_strategy_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown strategy"):
        combine("dictator", [], PARAMS)


def test_weights_learnt_from_accuracy() -> None:
    good = VoterRecord("good", judged=100, correct=95)
    coin = VoterRecord("coin", judged=100, correct=50)
    bad = VoterRecord("bad", judged=100, correct=10)
    weights = learn_weights([good, coin, bad])
    assert weights["good"] > weights["coin"]
    assert weights["coin"] == MIN_WEIGHT  # log-odds 0, floored
    assert weights["bad"] == MIN_WEIGHT
    assert weights["good"] == pytest.approx(math.log(96 / 6), abs=1e-3)
    assert learn_weights([VoterRecord("sure", 10**6, 10**6)])["sure"] == MAX_WEIGHT


def test_review_votes_count_half_right() -> None:
    assert vote_credit(Level.REVIEW, Level.UNFAVOURABLE) == 0.5
    assert vote_credit(Level.UNFAVOURABLE, Level.UNFAVOURABLE) == 1.0
    assert vote_credit(Level.FAVOURABLE, Level.UNFAVOURABLE) == 0.0


def test_a_merchant_rule_block_vetoes_but_the_default_score_band_only_votes() -> None:
    from smartpay.decisions.kinds import DecisionKind, spec_for
    from smartpay.decisions.voters import DecisionRequest, RulesVoter
    from smartpay.risk.rules import Condition, RiskRule, score_rules

    request = DecisionRequest(
        merchant_id="acct_1",
        kind=DecisionKind.PAYMENT_RISK,
        subject_id="pi_1",
        facts={"score": 990, "terminal_age_days": 30.0, "ip_country": "NG"},
    )
    spec = spec_for(DecisionKind.PAYMENT_RISK)
    by_default = RulesVoter(score_rules()).vote_now(request, spec)
    assert by_default.decision == "decline" and not by_default.veto
    merchant_rule = RiskRule(
        id="rule_block_ng",
        conditions=(Condition(fact="ip_country", operator="in", value=("NG",)),),
        action="block",
    )
    by_merchant = RulesVoter((merchant_rule, *score_rules())).vote_now(request, spec)
    assert by_merchant.decision == "decline" and by_merchant.veto
