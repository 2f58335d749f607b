"""Strategies: how a set of votes becomes one outcome.

- ``majority``: the level most valid votes chose; a tie goes to review.
- ``weighted``: the same with each vote counting its voter's weight.
- ``weighted_average``: the weighted mean of the votes' risks against two thresholds
  (review at or above ``review_threshold``, the unfavourable label at or above
  ``decline_threshold``).
- ``hybrid``: vetoes first (a rule's block cannot be outvoted), then escalation to
  review when fewer than ``quorum`` voters answered or their risks are further apart than
  ``spread_threshold``, then the weighted average.

Whatever the strategy, at or above the unanimity amount of the request's currency a
favourable outcome needs every valid vote to be favourable; otherwise it goes to review.

Pure functions of the votes: no I/O, so `smartpay decisions evaluate` replays them on a
labelled backtest exactly as live decisions run them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from smartpay.decisions.kinds import Level
from smartpay.decisions.voters import Vote

STRATEGIES = ("majority", "weighted", "weighted_average", "hybrid")
DEFAULT_WEIGHT = 1.0
# Learnt weights are the log-odds of a voter's accuracy (the weighted-majority optimum
# for independent voters), kept in [MIN_WEIGHT, MAX_WEIGHT]: a voter no better than a
# coin still counts a little, and no voter alone outweighs a dozen others.
MIN_WEIGHT = 0.1
MAX_WEIGHT = 5.0


@dataclass(frozen=True, slots=True)
class StrategyParams:
    weights: Mapping[str, float] = field(default_factory=dict)
    review_threshold: float = 0.1
    decline_threshold: float = 0.5
    spread_threshold: float = 0.7
    quorum: int = 2
    # In the request's currency; None: no unanimity rule for it.
    unanimity_amount: int | None = None

    def weight(self, voter: str) -> float:
        return float(self.weights.get(voter, DEFAULT_WEIGHT))


@dataclass(frozen=True, slots=True)
class StrategyOutcome:
    level: Level
    risk: float | None
    explanation: str
    escalated: bool = False


def combine(
    strategy: str, votes: Sequence[Vote], params: StrategyParams, amount: int | None = None
) -> StrategyOutcome:
    valid = [vote for vote in votes if vote.valid]
    if strategy == "majority":
        outcome = majority(valid)
    elif strategy == "weighted":
        outcome = weighted(valid, params)
    elif strategy == "weighted_average":
        outcome = weighted_average(valid, params)
    elif strategy == "hybrid":
        outcome = hybrid(valid, params)
    else:
        raise ValueError(f"unknown strategy {strategy!r}")
    return unanimity(outcome, valid, params, amount)


def _levels(votes: Sequence[Vote]) -> list[Level]:
    from smartpay.decisions.kinds import KIND_SPECS

    # A vote's decision is one of its kind's labels; every kind's labels map to a level.
    levels = []
    for vote in votes:
        for spec in KIND_SPECS.values():
            if vote.decision in spec.labels:
                levels.append(spec.level(vote.decision))
                break
    return levels


def _tally(votes: Sequence[Vote], weights: Sequence[float]) -> StrategyOutcome:
    if not votes:
        return StrategyOutcome(Level.REVIEW, None, "no valid vote", escalated=True)
    totals: dict[Level, float] = {}
    for level, weight in zip(_levels(votes), weights, strict=True):
        totals[level] = totals.get(level, 0.0) + weight
    best = max(totals.values())
    leaders = [level for level, total in totals.items() if math.isclose(total, best)]
    described = ", ".join(f"{level.value} {total:g}" for level, total in sorted(totals.items()))
    if len(leaders) > 1:
        return StrategyOutcome(Level.REVIEW, None, f"tie ({described})", escalated=True)
    return StrategyOutcome(leaders[0], None, described)


def majority(votes: Sequence[Vote]) -> StrategyOutcome:
    return _tally(votes, [1.0] * len(votes))


def weighted(votes: Sequence[Vote], params: StrategyParams) -> StrategyOutcome:
    return _tally(votes, [params.weight(vote.voter) for vote in votes])


def average_risk(votes: Sequence[Vote], params: StrategyParams) -> float | None:
    total = weight_sum = 0.0
    for vote in votes:
        if vote.risk is None:
            continue
        weight = params.weight(vote.voter)
        total += weight * vote.risk
        weight_sum += weight
    return total / weight_sum if weight_sum > 0 else None


def weighted_average(votes: Sequence[Vote], params: StrategyParams) -> StrategyOutcome:
    risk = average_risk(votes, params)
    if risk is None:
        return StrategyOutcome(Level.REVIEW, None, "no vote with a risk", escalated=True)
    if risk >= params.decline_threshold:
        level = Level.UNFAVOURABLE
    elif risk >= params.review_threshold:
        level = Level.REVIEW
    else:
        level = Level.FAVOURABLE
    return StrategyOutcome(level, risk, f"weighted average risk {risk:.3f}")


def hybrid(votes: Sequence[Vote], params: StrategyParams) -> StrategyOutcome:
    vetoes = [vote.voter for vote in votes if vote.veto]
    if vetoes:
        risk = average_risk(votes, params)
        return StrategyOutcome(Level.UNFAVOURABLE, risk, f"veto by {', '.join(vetoes)}")
    if len(votes) < params.quorum:
        return StrategyOutcome(
            Level.REVIEW,
            average_risk(votes, params),
            f"quorum not met ({len(votes)} of {params.quorum} valid votes)",
            escalated=True,
        )
    risks = [vote.risk for vote in votes if vote.risk is not None]
    if risks and max(risks) - min(risks) > params.spread_threshold:
        return StrategyOutcome(
            Level.REVIEW,
            average_risk(votes, params),
            f"votes disagree (risks {min(risks):.2f} to {max(risks):.2f})",
            escalated=True,
        )
    return weighted_average(votes, params)


def unanimity(
    outcome: StrategyOutcome, votes: Sequence[Vote], params: StrategyParams, amount: int | None
) -> StrategyOutcome:
    if (
        outcome.level is not Level.FAVOURABLE
        or params.unanimity_amount is None
        or amount is None
        or amount < params.unanimity_amount
    ):
        return outcome
    dissent = [
        vote.voter
        for vote, level in zip(votes, _levels(votes), strict=True)
        if level is not Level.FAVOURABLE
    ]
    if not dissent and votes:
        return outcome
    reason = f"not unanimous at {amount} (dissent: {', '.join(dissent) or 'no votes'})"
    return StrategyOutcome(Level.REVIEW, outcome.risk, reason, escalated=True)


@dataclass(frozen=True, slots=True)
class VoterRecord:
    """A voter's votes judged against ground truth: a review vote counts half right."""

    voter: str
    judged: int
    correct: float

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.judged if self.judged else None


def vote_credit(vote_level: Level, truth_level: Level) -> float:
    if vote_level is Level.REVIEW or truth_level is Level.REVIEW:
        return 0.5
    return 1.0 if vote_level is truth_level else 0.0


def learnt_weight(record: VoterRecord) -> float:
    """log-odds of the (Laplace-smoothed) accuracy, within [MIN_WEIGHT, MAX_WEIGHT]."""
    right = record.correct + 1.0
    wrong = record.judged - record.correct + 1.0
    return min(MAX_WEIGHT, max(MIN_WEIGHT, math.log(right / wrong)))


def learn_weights(records: Sequence[VoterRecord]) -> dict[str, float]:
    return {record.voter: round(learnt_weight(record), 4) for record in records}
