"""The dynamic strategy: what SmartPay learns from each authorization and how it ranks
processors for the next one.

Everything here is pure (no I/O, no clock): live routing and ``smartpay routing
simulate`` call the same functions, live with statistics from SQL, the simulator with
statistics from memory.

- ``classify`` turns an attempt's outcome into an ``Observation``: approvals count for
  the processor; technical errors, timeouts and issuer soft declines count against it;
  declines caused by the card itself (lost, stolen, fraudulent, wrong number, expired…)
  are not counted at all, since any processor would have declined them.
- ``ArmStats``: per (processor, segment), exponentially discounted counts of approvals
  and failures (half-life in seconds), so old evidence fades and the strategy follows a
  processor that drifts; plus an average latency.
- ``ThompsonStrategy`` (the one SmartPay routes with): per candidate, a draw from the
  Beta posterior of its approval rate in the payment's segment, with the processor's
  pooled rate over every segment as the prior (cold start), then the objective
  ``amount × (p × (1 − fee_weight·fee/amount) − latency_weight·latency_s)``; with an
  exploration floor, a uniformly chosen candidate goes first.
- ``SlidingWindowStrategy``: success rate over a sliding window with an exploration
  share, the alternative the simulator measures it against (README, "Routing").
"""

from __future__ import annotations

import functools
import random
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final, Protocol

# Declines any processor would have answered, because of the card or its account: they
# say nothing about the processor, so they are not counted and never cascaded. The issue
# names stolen, lost, fraudulent, incorrect number and expired; the rest are the same
# kind (wrong card data, a failed 3-D Secure challenge, no money on the account).
CARD_CAUSED_DECLINES: Final = frozenset(
    {
        "lost_card",
        "stolen_card",
        "pickup_card",
        "fraudulent",
        "merchant_blacklist",
        "incorrect_number",
        "invalid_number",
        "expired_card",
        "incorrect_cvc",
        "invalid_cvc",
        "invalid_expiry_month",
        "invalid_expiry_year",
        "incorrect_zip",
        "insufficient_funds",
        "payment_intent_authentication_failure",
    }
)
# Soft declines another processor may well approve at once (issuer or network hiccups),
# the codes Stripe documents as "try again" ones. Default of
# SMARTPAY_ROUTING_RETRYABLE_DECLINE_CODES.
DEFAULT_RETRYABLE_DECLINES: Final = (
    "processing_error",
    "try_again_later",
    "issuer_not_available",
    "reenter_transaction",
)
POOLED_SEGMENT: Final = "*"
UNKNOWN: Final = "unknown"
# The four dimensions of a segment key, in order.
DIMENSIONS: Final = ("brand", "country", "band", "currency")


# Distinct segments are few (brands × countries × bands × currencies seen): cache them.
_SEGMENT_CACHE: Final = 4096


@functools.lru_cache(maxsize=_SEGMENT_CACHE)
def marginal_keys(segment: str) -> tuple[str, ...]:
    """The one-dimension segments a full segment belongs to ("country=DE"…): statistics
    are kept for them too, and they make the cold-start prior of the full segment."""
    return tuple(
        f"{name}={value}" for name, value in zip(DIMENSIONS, segment.split(":"), strict=False)
    )


def stats_keys(segment: str) -> list[str]:
    """Every statistics row one observation in ``segment`` updates."""
    return [segment, *marginal_keys(segment), POOLED_SEGMENT]


class OutcomeKind(StrEnum):
    APPROVED = "approved"  # counted for the processor
    SOFT_DECLINE = "soft_decline"  # the issuer said no via this processor: counted against
    CARD_DECLINE = "card_decline"  # caused by the card: not counted, never cascaded
    TECHNICAL = "technical"  # the processor certainly did nothing: counted against
    TIMEOUT = "timeout"  # outcome unknown: counted against (and trips the breaker)
    CHALLENGE = "challenge"  # 3-D Secure pending: says nothing yet, not counted


@dataclass(frozen=True, slots=True)
class Observation:
    kind: OutcomeKind
    decline_code: str | None = None

    @property
    def counted(self) -> bool:
        return self.kind not in (OutcomeKind.CARD_DECLINE, OutcomeKind.CHALLENGE)

    @property
    def success(self) -> bool:
        return self.kind is OutcomeKind.APPROVED

    @property
    def breaker_failure(self) -> bool:
        """For the circuit breaker: True for an error or timeout, False for an answer."""
        return self.kind in (OutcomeKind.TECHNICAL, OutcomeKind.TIMEOUT)


def classify_decline(decline_code: str | None, error_code: str | None) -> OutcomeKind:
    codes = {decline_code, error_code}
    if codes & CARD_CAUSED_DECLINES:
        return OutcomeKind.CARD_DECLINE
    return OutcomeKind.SOFT_DECLINE


def is_retryable_decline(
    decline_code: str | None, error_code: str | None, retryable: frozenset[str]
) -> bool:
    """A soft decline worth trying at the next processor right away."""
    if classify_decline(decline_code, error_code) is OutcomeKind.CARD_DECLINE:
        return False
    return bool({decline_code, error_code} & retryable)


# ----------------------------------------------------------------------------- segments


@dataclass(frozen=True, slots=True)
class PaymentContext:
    """What routing knows about a payment. Never the card number: brand, issuing country
    and the first six digits (BIN) are enough, and only the BIN rules look at the BIN."""

    merchant_id: str
    amount: int
    currency: str
    brand: str | None
    country: str | None
    amount_band: str
    bin: str | None = None
    customer: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    key: str = ""  # what a volume split hashes: the intent id, so retries split alike

    segment: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        # brand × issuing country × amount band × currency, computed once per payment.
        segment = (
            f"{self.brand or UNKNOWN}:{self.country or UNKNOWN}:{self.amount_band}:{self.currency}"
        )
        object.__setattr__(self, "segment", segment)


# ----------------------------------------------------------------------------- statistics


def decay_factor(elapsed_seconds: float, half_life_seconds: float) -> float:
    """How much of old evidence is left after ``elapsed_seconds`` (1 for no time)."""
    if elapsed_seconds <= 0:
        return 1.0
    return float(0.5 ** (elapsed_seconds / half_life_seconds))


# Weight of a new latency sample in the moving average: about the last 20 calls matter.
LATENCY_EWMA_WEIGHT: Final = 0.1


@dataclass(slots=True)
class ArmStats:
    """Discounted evidence about one processor in one segment, as of ``updated_at``."""

    successes: float = 0.0
    failures: float = 0.0
    updated_at: float = 0.0
    latency_ms: float = 0.0
    latency_samples: int = 0

    def at(self, now: float, half_life: float) -> tuple[float, float]:
        """(successes, failures) discounted to ``now``."""
        factor = decay_factor(now - self.updated_at, half_life)
        return self.successes * factor, self.failures * factor

    def observe(
        self, success: bool, latency_ms: float | None, now: float, half_life: float
    ) -> None:
        """Fold one counted outcome in. ``SqlStatsStore`` does the same arithmetic in SQL."""
        factor = decay_factor(now - self.updated_at, half_life)
        self.successes = self.successes * factor + (1.0 if success else 0.0)
        self.failures = self.failures * factor + (0.0 if success else 1.0)
        self.updated_at = max(self.updated_at, now)
        self.observe_latency(latency_ms)

    def observe_latency(self, latency_ms: float | None) -> None:
        if latency_ms is None:
            return
        if self.latency_samples == 0:
            self.latency_ms = latency_ms
        else:
            self.latency_ms += LATENCY_EWMA_WEIGHT * (latency_ms - self.latency_ms)
        self.latency_samples += 1


@dataclass(slots=True)
class ArmIncrement:
    """Several observations of one arm folded together, so a store can apply them in one
    write with exactly the result of ``ArmStats.observe`` called for each in turn.

    Counts: decayed to the last counted observation's time. Latency: after k samples
    with weight w, an average l becomes ``l * (1 - w) ** k + latency_sum``; an arm with
    no samples yet starts from the first sample, which gives ``first * (1 - w) ** k +
    latency_sum``."""

    successes: float = 0.0
    failures: float = 0.0
    updated_at: float = 0.0  # time of the last counted observation (0: none counted)
    latency_keep: float = 1.0  # (1 - w) ** k
    latency_sum: float = 0.0
    first_latency: float | None = None
    latency_samples: int = 0
    first_seen: float = 0.0  # a new arm starts here, as ``MemoryRoutingStore``'s do

    def add(
        self, success: bool | None, latency_ms: float | None, now: float, half_life: float
    ) -> None:
        """``success`` None: only the latency is folded in (an outcome not counted)."""
        if not self.first_seen:
            self.first_seen = now
        if success is not None:
            factor = decay_factor(now - self.updated_at, half_life) if self.updated_at else 0.0
            self.successes = self.successes * factor + (1.0 if success else 0.0)
            self.failures = self.failures * factor + (0.0 if success else 1.0)
            self.updated_at = max(self.updated_at, now)
        if latency_ms is not None:
            if self.first_latency is None:
                self.first_latency = latency_ms
            keep = 1.0 - LATENCY_EWMA_WEIGHT
            self.latency_sum = self.latency_sum * keep + LATENCY_EWMA_WEIGHT * latency_ms
            self.latency_keep *= keep
            self.latency_samples += 1

    def apply_to(self, arm: ArmStats, half_life: float) -> None:
        """What a store does with the increment, here on an ``ArmStats`` in memory."""
        if self.updated_at:
            factor = decay_factor(self.updated_at - arm.updated_at, half_life)
            arm.successes = arm.successes * factor + self.successes
            arm.failures = arm.failures * factor + self.failures
            arm.updated_at = max(arm.updated_at, self.updated_at)
        if self.first_latency is not None:
            start = arm.latency_ms if arm.latency_samples else self.first_latency
            arm.latency_ms = start * self.latency_keep + self.latency_sum
            arm.latency_samples += self.latency_samples


@dataclass(frozen=True, slots=True)
class StrategyWeights:
    """The objective's knobs (SMARTPAY_ROUTING_*)."""

    fee_weight: float = 1.0
    latency_weight_per_second: float = 0.01
    prior_strength: float = 20.0
    prior_approval: float = 0.85
    exploration_floor: float = 0.01
    half_life_seconds: float = 43_200.0  # SMARTPAY_ROUTING_HALF_LIFE_SECONDS


@dataclass(frozen=True, slots=True)
class CandidateScore:
    processor: str
    score: float  # the objective, in minor units of the payment's currency
    approval: float  # the approval probability used (a posterior draw or an estimate)
    mean_approval: float  # the posterior mean: what the strategy believes on average
    expected_fee: int
    latency_ms: float
    evidence: float  # discounted observations in the payment's segment
    explored: bool = False

    def as_reason(self) -> dict[str, float | int | str | bool]:
        return {
            "processor": self.processor,
            "score": round(self.score, 2),
            "approval_sample": round(self.approval, 4),
            "approval_mean": round(self.mean_approval, 4),
            "expected_fee": self.expected_fee,
            "latency_ms": round(self.latency_ms, 1),
            "evidence": round(self.evidence, 1),
            "explored": self.explored,
        }


# (processor, amount, currency) -> the fee an approved, captured amount would cost there.
FeeEstimator = Callable[[str, int, str], int]


class StatsView(Protocol):
    """The statistics a strategy reads for one decision."""

    def arm(self, processor: str, segment: str) -> ArmStats | None: ...


class Strategy(Protocol):
    name: str

    def rank(
        self,
        context: PaymentContext,
        candidates: Sequence[str],
        stats: StatsView,
        fees: FeeEstimator,
        rng: random.Random,
        now: float,
    ) -> list[CandidateScore]: ...


def _objective(
    amount: int, approval: float, fee: int, latency_ms: float, weights: StrategyWeights
) -> float:
    value = approval * (amount - weights.fee_weight * fee)
    penalty = weights.latency_weight_per_second * (latency_ms / 1000.0) * amount
    return value - penalty


def _explore(
    scored: list[CandidateScore], rng: random.Random, floor: float
) -> list[CandidateScore]:
    """Best first; with probability ``floor`` a uniformly chosen candidate goes first, so
    every processor keeps being measured however bad it looked."""
    scored.sort(key=lambda item: item.score, reverse=True)
    if len(scored) > 1 and floor > 0 and rng.random() < floor:
        chosen = scored.pop(rng.randrange(len(scored)))
        scored.insert(0, _replace_explored(chosen))
    return scored


def _replace_explored(item: CandidateScore) -> CandidateScore:
    return CandidateScore(
        item.processor,
        item.score,
        item.approval,
        item.mean_approval,
        item.expected_fee,
        item.latency_ms,
        item.evidence,
        explored=True,
    )


# A prior is never certain either way.
_MIN_PRIOR: Final = 0.01
_MAX_PRIOR: Final = 0.99


class ThompsonStrategy:
    """Discounted Thompson sampling on approval, segment by segment."""

    name = "thompson"

    def __init__(self, weights: StrategyWeights) -> None:
        self.weights = weights

    def prior_mean(self, processor: str, segment: str, stats: StatsView, now: float) -> float:
        """The processor's expected approval in a segment before any evidence from it.

        A main-effects model: the processor's pooled rate, times how much better or worse
        it does on this brand, this country, this amount band and this currency (each
        one-dimension rate over the pooled one). Every rate shrinks toward the global
        prior while its evidence is thin, so a new processor starts at ``prior_approval``."""
        weights = self.weights
        half_life = weights.half_life_seconds
        strength = weights.prior_strength

        def rate(key: str, toward: float) -> float:
            arm = stats.arm(processor, key)
            if arm is None:
                return toward
            s, f = arm.at(now, half_life)
            return (s + strength * toward) / (s + f + strength)

        pooled = rate(POOLED_SEGMENT, weights.prior_approval)
        mean = pooled
        for key in marginal_keys(segment):
            mean *= rate(key, pooled) / pooled
        return min(_MAX_PRIOR, max(_MIN_PRIOR, mean))

    def posterior(
        self, processor: str, segment: str, stats: StatsView, now: float
    ) -> tuple[float, float, float]:
        """(alpha, beta, segment evidence) of the Beta posterior of the approval rate:
        the prior worth ``prior_strength`` observations, plus the segment's own."""
        strength = self.weights.prior_strength
        prior = self.prior_mean(processor, segment, stats, now)
        own = stats.arm(processor, segment)
        s, f = own.at(now, self.weights.half_life_seconds) if own is not None else (0.0, 0.0)
        return strength * prior + s, strength * (1.0 - prior) + f, s + f

    def rank(
        self,
        context: PaymentContext,
        candidates: Sequence[str],
        stats: StatsView,
        fees: FeeEstimator,
        rng: random.Random,
        now: float,
    ) -> list[CandidateScore]:
        scored = []
        for processor in candidates:
            alpha, beta, evidence = self.posterior(processor, context.segment, stats, now)
            sample = rng.betavariate(alpha, beta)
            fee = fees(processor, context.amount, context.currency)
            pooled = stats.arm(processor, POOLED_SEGMENT)
            latency = pooled.latency_ms if pooled is not None else 0.0
            scored.append(
                CandidateScore(
                    processor,
                    _objective(context.amount, sample, fee, latency, self.weights),
                    sample,
                    alpha / (alpha + beta),
                    fee,
                    latency,
                    evidence,
                )
            )
        return _explore(scored, rng, self.weights.exploration_floor)


# ----------------------------------------------------------------------------- the alternative


class WindowStats:
    """Outcomes of the last ``window_seconds`` per (processor, segment), in memory. Only
    the simulator uses it: it is what ``SlidingWindowStrategy`` is measured with."""

    def __init__(self, window_seconds: float) -> None:
        self.window_seconds = window_seconds
        self._outcomes: dict[tuple[str, str], deque[tuple[float, bool]]] = {}

    def observe(self, processor: str, segment: str, success: bool, now: float) -> None:
        for key in ((processor, segment), (processor, POOLED_SEGMENT)):
            self._outcomes.setdefault(key, deque()).append((now, success))

    def rate(self, processor: str, segment: str, now: float) -> tuple[float, int]:
        """(successes, calls) within the window."""
        outcomes = self._outcomes.get((processor, segment))
        if not outcomes:
            return 0.0, 0
        horizon = now - self.window_seconds
        while outcomes and outcomes[0][0] < horizon:
            outcomes.popleft()
        return float(sum(1 for _, ok in outcomes if ok)), len(outcomes)


class SlidingWindowStrategy:
    """Success rate over a sliding window (pooled rate as a prior), greedy, with a fixed
    exploration share: the textbook alternative to discounted Thompson sampling."""

    name = "sliding_window"

    def __init__(self, weights: StrategyWeights, window: WindowStats, exploration: float) -> None:
        self.weights = weights
        self.window = window
        self.exploration = exploration

    def rank(
        self,
        context: PaymentContext,
        candidates: Sequence[str],
        stats: StatsView,
        fees: FeeEstimator,
        rng: random.Random,
        now: float,
    ) -> list[CandidateScore]:
        weights = self.weights
        scored = []
        for processor in candidates:
            ps, pn = self.window.rate(processor, POOLED_SEGMENT, now)
            strength = weights.prior_strength
            prior = (ps + strength * weights.prior_approval) / (pn + strength)
            s, n = self.window.rate(processor, context.segment, now)
            estimate = (s + strength * prior) / (n + strength)
            fee = fees(processor, context.amount, context.currency)
            pooled = stats.arm(processor, POOLED_SEGMENT)
            latency = pooled.latency_ms if pooled is not None else 0.0
            scored.append(
                CandidateScore(
                    processor,
                    _objective(context.amount, estimate, fee, latency, weights),
                    estimate,
                    estimate,
                    fee,
                    latency,
                    float(n),
                )
            )
        return _explore(scored, rng, self.exploration)
