"""The pure routing core: rules in order, volume splits, the strategy, breakers."""

from __future__ import annotations

import random

import pytest

from smartpay.routing.bandit import (
    ArmStats,
    Observation,
    OutcomeKind,
    PaymentContext,
    StrategyWeights,
    ThompsonStrategy,
    classify_decline,
    is_retryable_decline,
)
from smartpay.routing.breaker import (
    BREAKER_TRANSITIONS,
    BreakerPolicy,
    BreakerRecord,
    BreakerState,
    admits,
    after_call,
)
from smartpay.routing.schemas import RoutingConfig
from smartpay.routing.service import Decision, Router
from smartpay.routing.store import MemoryRoutingStore

NAMES = ["a", "b", "c"]
FEES = {"a": 30, "b": 20, "c": 10}


def _router(policy: BreakerPolicy | None = None) -> Router:
    return Router(
        NAMES,
        lambda name, amount, currency: FEES[name],
        ThompsonStrategy(StrategyWeights(exploration_floor=0.0)),
        policy or BreakerPolicy(),
    )


def _context(**overrides: object) -> PaymentContext:
    values: dict[str, object] = {
        "merchant_id": "acct_1",
        "amount": 5_000,
        "currency": "usd",
        "brand": "visa",
        "country": "US",
        "amount_band": "medium",
        "bin": "424242",
        "customer": None,
        "metadata": {},
        "key": "pi_1",
    }
    values.update(overrides)
    return PaymentContext(**values)  # type: ignore[arg-type]


def _decide(
    config: RoutingConfig, context: PaymentContext, store: MemoryRoutingStore | None = None
) -> Decision:
    store = store or MemoryRoutingStore(3600, BreakerPolicy())
    view = store.view()
    return _router().decide(context, config, view, view.breakers, random.Random(1), 1_000.0)


def test_first_matching_rule_wins() -> None:
    config = RoutingConfig.model_validate(
        {
            "rules": [
                {"id": "eur", "when": {"currency": ["eur"]}, "route": {"processor": "c"}},
                {"id": "big", "when": {"amount": {"gte": 1000}}, "route": {"processor": "b"}},
                {"id": "all", "route": {"processor": "a"}},
            ]
        }
    )
    decision = _decide(config, _context())
    assert decision.rule == "big" and decision.processors[0] == "b"
    decision = _decide(config, _context(currency="eur"))
    assert decision.rule == "eur" and decision.processors[0] == "c"
    decision = _decide(config, _context(amount=500))
    assert decision.rule == "all" and decision.processors[0] == "a"
    # The rest follow by the strategy unless the rule says "then": "none".
    assert sorted(decision.processors) == NAMES


def test_conditions_on_bin_brand_country_customer_and_metadata() -> None:
    rule = {
        "id": "r",
        "when": {
            "bin_range": ["400000-409999"],
            "card_brand": ["visa"],
            "card_country": ["de"],
            "customer": ["cus_1"],
            "metadata": {"channel": "app"},
        },
        "route": {"fallback": ["c", "b"], "then": "none"},
    }
    config = RoutingConfig.model_validate({"rules": [rule]})
    matching = _context(bin="400012", country="DE", customer="cus_1", metadata={"channel": "app"})
    decision = _decide(config, matching)
    assert decision.rule == "r" and decision.processors == ["c", "b"]
    for other in (
        _context(bin="424242", country="DE", customer="cus_1", metadata={"channel": "app"}),
        _context(bin="400012", country="US", customer="cus_1", metadata={"channel": "app"}),
        _context(bin="400012", country="DE", customer="cus_2", metadata={"channel": "app"}),
        _context(bin="400012", country="DE", customer="cus_1", metadata={"channel": "web"}),
        _context(
            bin="400012",
            country="DE",
            customer="cus_1",
            metadata={"channel": "app"},
            brand="mastercard",
        ),
    ):
        assert _decide(config, other).rule is None


def test_split_shares_hold_over_many_payments() -> None:
    config = RoutingConfig.model_validate(
        {"rules": [{"id": "ab", "route": {"split": {"a": 70, "b": 20, "c": 10}}}]}
    )
    counts = {name: 0 for name in NAMES}
    payments = 20_000
    for index in range(payments):
        decision = _decide(config, _context(key=f"pi_{index}"))
        assert decision.method == "split"
        counts[decision.processors[0]] += 1
    # Binomial standard deviation at 20,000 draws is at most 0.35 points: 1.5 is > 4 sigma.
    assert abs(counts["a"] / payments - 0.70) < 0.015
    assert abs(counts["b"] / payments - 0.20) < 0.015
    assert abs(counts["c"] / payments - 0.10) < 0.015
    # The same payment always lands on the same side.
    assert (
        _decide(config, _context(key="pi_7")).processors[0]
        == (_decide(config, _context(key="pi_7")).processors[0])
    )


def test_strategy_learns_the_better_processor_per_segment() -> None:
    store = MemoryRoutingStore(3600, BreakerPolicy())
    rng = random.Random(3)
    us, de = _context(country="US"), _context(country="DE")
    truth = {("a", "US"): 0.95, ("b", "US"): 0.80, ("a", "DE"): 0.78, ("b", "DE"): 0.96}
    config = RoutingConfig(processors=["a", "b"])
    router = _router()
    now = 0.0
    for index in range(4_000):
        context = us if index % 2 else de
        now += 1.0
        view = store.view()
        first = router.decide(context, config, view, view.breakers, rng, now).processors[0]
        approved = rng.random() < truth[(first, context.country or "")]
        kind = OutcomeKind.APPROVED if approved else OutcomeKind.SOFT_DECLINE
        store.record_now(first, context.segment, Observation(kind), 100.0, now)
    picks = {"US": 0, "DE": 0}
    for _ in range(200):
        view = store.view()
        picks["US"] += router.decide(us, config, view, view.breakers, rng, now).processors[0] == "a"
        picks["DE"] += router.decide(de, config, view, view.breakers, rng, now).processors[0] == "b"
    assert picks["US"] > 180 and picks["DE"] > 180


def test_card_caused_declines_are_not_counted() -> None:
    assert classify_decline("stolen_card", "card_declined") is OutcomeKind.CARD_DECLINE
    assert classify_decline("lost_card", None) is OutcomeKind.CARD_DECLINE
    assert classify_decline("fraudulent", None) is OutcomeKind.CARD_DECLINE
    assert classify_decline("expired_card", "expired_card") is OutcomeKind.CARD_DECLINE
    assert classify_decline("incorrect_number", None) is OutcomeKind.CARD_DECLINE
    assert classify_decline("do_not_honor", None) is OutcomeKind.SOFT_DECLINE
    store = MemoryRoutingStore(3600, BreakerPolicy())
    segment = _context().segment
    for _ in range(50):
        store.record_now("a", segment, Observation(OutcomeKind.CARD_DECLINE), 10.0, 5.0)
    arm = store.stats[("a", segment)]
    assert arm.successes == 0 and arm.failures == 0
    store.record_now("a", segment, Observation(OutcomeKind.SOFT_DECLINE), 10.0, 5.0)
    store.record_now("a", segment, Observation(OutcomeKind.TECHNICAL), 10.0, 5.0)
    store.record_now("a", segment, Observation(OutcomeKind.TIMEOUT), 10.0, 5.0)
    assert store.stats[("a", segment)].failures == 3


def test_retryable_declines() -> None:
    retryable = frozenset({"try_again_later", "processing_error"})
    assert is_retryable_decline("try_again_later", "card_declined", retryable)
    assert is_retryable_decline("processing_error", "processing_error", retryable)
    assert not is_retryable_decline("do_not_honor", "card_declined", retryable)
    assert not is_retryable_decline("stolen_card", "processing_error", retryable)


def test_discounting_forgets_old_evidence() -> None:
    arm = ArmStats()
    for second in range(100):
        arm.observe(True, None, float(second), half_life=10.0)
    successes, _ = arm.at(99.0, 10.0)
    later, _ = arm.at(109.0, 10.0)
    assert later == pytest.approx(successes / 2)


# ----------------------------------------------------------------------------- breaker

POLICY = BreakerPolicy(
    window_seconds=60, min_calls=10, error_rate=0.5, cooldown_seconds=30, probe_successes=3
)


def test_breaker_opens_probes_and_closes() -> None:
    rng = random.Random(0)
    record = BreakerRecord("a")
    now = 1_000.0
    for _ in range(9):  # under min_calls: never opens, however bad
        record, moved = after_call(record, True, now, POLICY)
        assert moved == []
    record, moved = after_call(record, True, now, POLICY)
    assert [(t.previous, t.state) for t in moved] == [(BreakerState.CLOSED, BreakerState.OPEN)]
    assert admits(record, now + 29, POLICY, rng) == (False, "open")
    # Past the cooldown a probe share goes through; its answer turns it half-open.
    probes = sum(admits(record, now + 31, POLICY, rng)[0] for _ in range(1_000))
    assert 50 < probes < 150  # probe_share 0.1
    record, moved = after_call(record, False, now + 31, POLICY)
    assert [t.state for t in moved] == [BreakerState.HALF_OPEN]
    record, moved = after_call(record, False, now + 32, POLICY)
    assert moved == [] and record.state is BreakerState.HALF_OPEN
    record, moved = after_call(record, False, now + 33, POLICY)
    assert [t.state for t in moved] == [BreakerState.CLOSED]
    assert admits(record, now + 34, POLICY, rng) == (True, "closed")
    # Closed afresh: the errors that opened it are forgotten.
    assert record.window_counts(now + 34, POLICY) == (0, 0)


def test_breaker_probe_failure_reopens() -> None:
    record = BreakerRecord("a")
    for _ in range(10):
        record, _moved = after_call(record, True, 0.0 + 500, POLICY)
    assert record.state is BreakerState.OPEN
    record, moved = after_call(record, False, 540.0, POLICY)
    assert record.state is BreakerState.HALF_OPEN
    record, moved = after_call(record, True, 541.0, POLICY)
    assert [t.state for t in moved] == [BreakerState.OPEN] and record.changed_at == 541.0


def test_breaker_ignores_a_low_error_rate_and_old_errors() -> None:
    record = BreakerRecord("a")
    for index in range(100):
        record, moved = after_call(record, index % 3 == 0, 600.0 + index * 0.1, POLICY)
        assert moved == []  # 34% errors: below 50%
    record = BreakerRecord("a")
    for _ in range(8):
        record, _moved = after_call(record, True, 600.0, POLICY)
    # Two windows later those errors are gone: two more are not ten out of ten.
    record, moved = after_call(record, True, 800.0, POLICY)
    record, moved = after_call(record, True, 800.0, POLICY)
    assert record.state is BreakerState.CLOSED


def test_breaker_transition_table_is_enforced() -> None:
    allowed = {(a, b) for a, targets in BREAKER_TRANSITIONS.items() for b in targets}
    assert allowed == {
        (BreakerState.CLOSED, BreakerState.OPEN),
        (BreakerState.OPEN, BreakerState.HALF_OPEN),
        (BreakerState.HALF_OPEN, BreakerState.CLOSED),
        (BreakerState.HALF_OPEN, BreakerState.OPEN),
    }


def test_open_breaker_takes_a_processor_out_of_the_ranking() -> None:
    store = MemoryRoutingStore(3600, POLICY)
    for _ in range(10):
        store.record_now("a", "x", Observation(OutcomeKind.TECHNICAL), 5.0, 100.0)
    assert store.breakers["a"].state is BreakerState.OPEN
    config = RoutingConfig(strategy="priority")
    view = store.view()
    decision = _router(POLICY).decide(
        _context(), config, view, view.breakers, random.Random(0), 110.0
    )
    assert decision.processors == ["b", "c"]
    assert decision.skipped == {"a": "breaker open"}
    assert decision.breakers["a"]["state"] == "open"
