"""`smartpay decisions evaluate`: every voter alone and every strategy over labelled
simulated payments (the risk simulator), with precision, recall, average precision and a
cost-weighted loss.

The votes are the live voters' own (``vote_now`` of the risk model, rules and anomaly
voters) and the outcomes the live strategies' (``strategies.combine``). The payments of
the evaluated period are split in time: the weights of the weighted strategies are learnt
from the voters' accuracy on the first half (as ``POST /v1/decisions/policy/learn`` does
from ground truth), and every figure is measured on the second half only.

Cost-weighted loss, in the payments' currency units (the simulator's amounts are treated
as USD): an approved fraud costs its amount plus a chargeback fee; a declined good payment
costs its amount (the sale is lost); a review costs a reviewer's time and is assumed to
reach the right verdict.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt

from smartpay.decisions.kinds import LEVEL_RISK, DecisionKind, Level, spec_for
from smartpay.decisions.strategies import (
    STRATEGIES,
    StrategyParams,
    VoterRecord,
    combine,
    learn_weights,
    vote_credit,
)
from smartpay.decisions.voters import DecisionRequest, LocalVoter, Vote
from smartpay.risk.metrics import average_precision
from smartpay.risk.simulator import SimulationConfig, simulate

# Stripe's dispute fee ($15), paid on top of the lost amount of every chargeback.
CHARGEBACK_FEE = 15.0
# A few minutes of an analyst's time per manual review.
REVIEW_COST = 3.0
# What a wrongly declined good payment costs, as a share of its amount: the sale.
GOOD_DECLINE_SHARE = 1.0
# A simulation that is different from the shipped models' training data (seed 0, the
# handbook's population): another seed, a tenth of the population at the same density.
DEFAULT_CONFIG = SimulationConfig(
    seed=11, n_customers=1_000, n_terminals=2_000, n_days=75, start_date=date(2018, 4, 1)
)
# The last days are evaluated (the earlier ones warm the feature aggregates up).
DEFAULT_EVALUATED_DAYS = 20


@dataclass(frozen=True, slots=True)
class Figures:
    precision: float  # of the payments flagged (review or decline), the share that is fraud
    recall: float  # of the frauds, the share flagged
    average_precision: float  # of the risk ranking
    loss: float  # cost-weighted, currency units
    reviews: int
    declines: int

    def to_json(self) -> dict[str, float | int]:
        return {
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "average_precision": round(self.average_precision, 4),
            "cost_weighted_loss": round(self.loss, 2),
            "reviews": self.reviews,
            "declines": self.declines,
        }


def figures(
    levels: Sequence[Level],
    risks: npt.NDArray[np.float64],
    labels: npt.NDArray[np.int8],
    amounts: npt.NDArray[np.float64],
) -> Figures:
    level_codes = np.array([_CODE[level] for level in levels])
    fraud = labels.astype(bool)
    flagged = level_codes > 0
    approved, reviewed, declined = level_codes == 0, level_codes == 1, level_codes == 2
    loss = (
        float((amounts[approved & fraud] + CHARGEBACK_FEE).sum())
        + float(amounts[declined & ~fraud].sum()) * GOOD_DECLINE_SHARE
        + REVIEW_COST * int(reviewed.sum())
    )
    return Figures(
        precision=float(fraud[flagged].mean()) if flagged.any() else 0.0,
        recall=float(flagged[fraud].mean()) if fraud.any() else 0.0,
        average_precision=average_precision(labels, risks),
        loss=loss,
        reviews=int(reviewed.sum()),
        declines=int(declined.sum()),
    )


_CODE = {Level.FAVOURABLE: 0, Level.REVIEW: 1, Level.UNFAVOURABLE: 2}


def evaluate(
    voters: Sequence[LocalVoter],
    params: StrategyParams,
    *,
    config: SimulationConfig = DEFAULT_CONFIG,
    evaluated_days: int = DEFAULT_EVALUATED_DAYS,
    on_progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Figures keyed by voter name and strategy name, plus a ``summary``."""
    from smartpay.risk.features import SECONDS_PER_DAY, replay_features
    from smartpay.risk.model import RiskModel

    simulation = simulate(config)
    table = simulation.table
    start = float(table.timestamps[-1]) - evaluated_days * SECONDS_PER_DAY
    wanted = table.timestamps >= start
    features = replay_features(table, wanted)
    labels = table.is_fraud[wanted]
    amounts = table.amounts_cents[wanted] / 100.0
    model = RiskModel.load()
    scores = model.scores(features)
    probabilities = 1.0 / (1.0 + np.exp(-model.raw_scores(features)))
    spec = spec_for(DecisionKind.PAYMENT_RISK)
    size = len(labels)
    ballots: list[tuple[Vote, ...]] = []
    for index in range(size):
        request = DecisionRequest(
            merchant_id="acct_evaluate",
            kind=DecisionKind.PAYMENT_RISK,
            subject_id=str(index),
            amount=int(table.amounts_cents[wanted][index]),
            currency="usd",
            risk_score=int(scores[index]),
            fraud_probability=float(probabilities[index]),
            features=features[index],
        )
        ballots.append(tuple(voter.vote_now(request, spec) for voter in voters))
        if on_progress is not None and (index % 500 == 0 or index == size - 1):
            on_progress(index + 1, size)
    half = size // 2
    learn, test = slice(0, half), slice(half, size)
    truth = [Level.UNFAVOURABLE if label else Level.FAVOURABLE for label in labels[learn]]
    records = []
    for position, voter in enumerate(voters):
        judged = correct = 0.0
        for ballot, truth_level in zip(ballots[learn], truth, strict=True):
            vote = ballot[position]
            if vote.valid and vote.decision is not None:
                judged += 1
                correct += vote_credit(spec.level(vote.decision), truth_level)
        records.append(VoterRecord(voter.name, int(judged), correct))
    weights = learn_weights(records)
    learnt = StrategyParams(
        weights=weights,
        review_threshold=params.review_threshold,
        decline_threshold=params.decline_threshold,
        spread_threshold=params.spread_threshold,
        quorum=params.quorum,
        unanimity_amount=params.unanimity_amount,
    )
    test_labels, test_amounts = labels[test], amounts[test]
    test_ballots = ballots[test]
    result: dict[str, Any] = {}
    for position, voter in enumerate(voters):
        votes = [ballot[position] for ballot in test_ballots]
        levels = [spec.level(v.decision) if v.decision else Level.FAVOURABLE for v in votes]
        risks = np.array([v.risk if v.risk is not None else 0.0 for v in votes])
        result[voter.name] = figures(levels, risks, test_labels, test_amounts).to_json()
    for strategy in STRATEGIES:
        for name, strategy_params in ((strategy, params), (f"{strategy}_learnt", learnt)):
            if strategy == "majority" and name.endswith("_learnt"):
                continue  # majority ignores weights
            outcomes = [combine(strategy, ballot, strategy_params, None) for ballot in test_ballots]
            levels = [outcome.level for outcome in outcomes]
            risks = np.array(
                [
                    outcome.risk if outcome.risk is not None else LEVEL_RISK[outcome.level]
                    for outcome in outcomes
                ]
            )
            result[name] = figures(levels, risks, test_labels, test_amounts).to_json()
    voter_names = [voter.name for voter in voters]
    best_voter = min(voter_names, key=lambda name: result[name]["cost_weighted_loss"])
    strategies = [name for name in result if name not in voter_names]
    best_strategy = min(strategies, key=lambda name: result[name]["cost_weighted_loss"])
    result["summary"] = {
        "payments": int(test.stop - test.start),
        "frauds": int(test_labels.sum()),
        "seed": config.seed,
        "learnt_weights": weights,
        "best_voter": best_voter,
        "best_strategy": best_strategy,
        "strategy_beats_best_voter": result[best_strategy]["cost_weighted_loss"]
        < result[best_voter]["cost_weighted_loss"],
        "cost_model": {
            "chargeback_fee": CHARGEBACK_FEE,
            "review_cost": REVIEW_COST,
            "good_decline_share": GOOD_DECLINE_SHARE,
        },
    }
    return result
