"""The backtest: the handbook's train / delay / test protocol, through the live feature code.

Every transaction up to the end of the test period is replayed in time order through
`replay_features` (labels revealed only a label delay after their transaction). Then::

    | train (7 d) | delay (7 d) | test (7 d) |

A model is fitted on the training period's rows (their labels are all known by the
time the test starts, since the delay is as long as the label delay), or the given
model is used, and every test row is scored with the features it had when it happened.

Following the handbook, so that its figures are comparable:

* on each test day, customers already known to be compromised — a fraud of theirs
  since the start of the training period whose label is revealed by the start of
  that day — are left out of the test set: their card would have been blocked;
* card precision@100 leaves out, on later days, the cards found in an earlier day's
  top 100 (they have been investigated and blocked).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
import numpy.typing as npt

from smartpay.risk.features import DEFAULT_LABEL_DELAY_DAYS, SECONDS_PER_DAY, replay_features
from smartpay.risk.metrics import (
    DEFAULT_CARDS_PER_DAY,
    auc_roc,
    average_precision,
    card_precision_at_k,
)
from smartpay.risk.model import RiskModel
from smartpay.risk.training import FIXED_ROUNDS, customer_codes, fit_booster
from smartpay.risk.transactions import TransactionTable

# The handbook's test protocol starts its training week on this day of its simulation.
DEFAULT_START = date(2018, 7, 25)
DEFAULT_TRAIN_DAYS = 7
DEFAULT_TEST_DAYS = 7


class BacktestDataError(ValueError):
    """The transactions do not cover the requested periods."""


@dataclass(frozen=True, slots=True)
class BacktestConfig:
    start: date = DEFAULT_START
    train_days: int = DEFAULT_TRAIN_DAYS
    delay_days: int = DEFAULT_LABEL_DELAY_DAYS
    test_days: int = DEFAULT_TEST_DAYS
    exclude_known_compromised: bool = True
    cards_per_day: int = DEFAULT_CARDS_PER_DAY
    rounds: int = FIXED_ROUNDS  # boosting rounds of the window model


@dataclass(frozen=True, slots=True)
class PeriodMetrics:
    n_transactions: int
    n_fraud: int
    auc_roc: float
    average_precision: float
    card_precision: float


@dataclass(frozen=True, slots=True)
class BacktestResult:
    config: BacktestConfig
    days: list[tuple[date, PeriodMetrics]]
    overall: PeriodMetrics
    train_transactions: int
    train_frauds: int

    def summary(self) -> dict[str, float | int]:
        """The overall figures, as `smartpay risk backtest --json` prints them."""
        return {
            "auc_roc": round(self.overall.auc_roc, 4),
            "average_precision": round(self.overall.average_precision, 4),
            f"card_precision_at_{self.config.cards_per_day}": round(self.overall.card_precision, 4),
            "n_test": self.overall.n_transactions,
            "n_fraud": self.overall.n_fraud,
        }


def _midnight(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


def _test_rows(
    table: TransactionTable, customers: npt.NDArray[np.int64], config: BacktestConfig
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Indices of the test rows and the test day (0-based) of each."""
    train_start = _midnight(config.start)
    test_start = train_start + (config.train_days + config.delay_days) * SECONDS_PER_DAY
    times = table.timestamps
    frauds = table.is_fraud == 1
    delay = config.delay_days * SECONDS_PER_DAY
    rows: list[npt.NDArray[np.int64]] = []
    days: list[npt.NDArray[np.int64]] = []
    for day in range(config.test_days):
        day_start = test_start + day * SECONDS_PER_DAY
        in_day = np.flatnonzero((times >= day_start) & (times < day_start + SECONDS_PER_DAY))
        if config.exclude_known_compromised:
            revealed = frauds & (times >= train_start) & (times + delay <= day_start)
            known = np.unique(customers[revealed])
            in_day = in_day[~np.isin(customers[in_day], known)]
        rows.append(in_day.astype(np.int64))
        days.append(np.full(len(in_day), day, dtype=np.int64))
    return np.concatenate(rows), np.concatenate(days)


def _metrics(
    labels: npt.NDArray[np.int8], scores: npt.NDArray[np.float64], card_precision: float
) -> PeriodMetrics:
    return PeriodMetrics(
        n_transactions=len(labels),
        n_fraud=int(labels.sum()),
        auc_roc=auc_roc(labels, scores),
        average_precision=average_precision(labels, scores),
        card_precision=card_precision,
    )


def _check_coverage(table: TransactionTable, config: BacktestConfig) -> None:
    needed_first = _midnight(config.start)
    total_days = config.train_days + config.delay_days + config.test_days
    last_day = config.start + timedelta(days=total_days - 1)
    if len(table) == 0:
        raise BacktestDataError("there are no transactions")
    starts_in_time = table.timestamps[0] < needed_first + SECONDS_PER_DAY
    if starts_in_time and table.timestamps[-1] >= _midnight(last_day):
        return
    first = datetime.fromtimestamp(float(table.timestamps[0]), UTC).date()
    last = datetime.fromtimestamp(float(table.timestamps[-1]), UTC).date()
    raise BacktestDataError(
        f"the transactions run from {first} to {last}; "
        f"the backtest needs {config.start} to {last_day} (see --start)"
    )


def run_backtest(
    table: TransactionTable,
    config: BacktestConfig | None = None,
    model: RiskModel | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> BacktestResult:
    """Replay, train on the training period (unless `model` is given), score the test days."""
    config = config or BacktestConfig()
    _check_coverage(table, config)
    train_start = _midnight(config.start)
    train_end = train_start + config.train_days * SECONDS_PER_DAY
    test_end = train_end + (config.delay_days + config.test_days) * SECONDS_PER_DAY
    # Nothing after the test period can influence it: stop the replay there.
    replayed = table.take(np.flatnonzero(table.timestamps < test_end).astype(np.int64))
    customers = customer_codes(replayed.customer_ids)
    train = (replayed.timestamps >= train_start) & (replayed.timestamps < train_end)
    test_rows, test_days = _test_rows(replayed, customers, config)
    if len(test_rows) == 0:
        raise BacktestDataError("the test period has no transactions")
    is_test = np.zeros(len(replayed), dtype=bool)
    is_test[test_rows] = True
    wanted = train | is_test
    features = replay_features(replayed, wanted, config.delay_days, on_progress=on_progress)
    # Feature rows are in table order; map train and test rows to them.
    position = np.cumsum(wanted) - 1
    train_features = features[position[train]]
    test_features = features[position[test_rows]]
    train_labels = replayed.is_fraud[train]
    if model is None:
        booster = fit_booster(train_features, train_labels, rounds=config.rounds)
        scores = np.asarray(booster.predict(test_features, raw_score=True), dtype=np.float64)
    else:
        scores = model.raw_scores(test_features)
    labels = replayed.is_fraud[test_rows]
    test_customers = customers[test_rows]
    card_precision = card_precision_at_k(
        test_days, test_customers, labels, scores, config.cards_per_day
    )
    per_day: list[tuple[date, PeriodMetrics]] = []
    test_start_day = config.start + timedelta(days=config.train_days + config.delay_days)
    for day in range(config.test_days):
        in_day = test_days == day
        per_day.append(
            (
                test_start_day + timedelta(days=day),
                _metrics(labels[in_day], scores[in_day], card_precision.per_day.get(day, 0.0)),
            )
        )
    overall = _metrics(labels, scores, card_precision.mean)
    return BacktestResult(
        config=config,
        days=per_day,
        overall=overall,
        train_transactions=int(train.sum()),
        train_frauds=int(train_labels.sum()),
    )
