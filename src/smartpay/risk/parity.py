"""How far the live features are from the backtest's exact ones.

The backtest (`features.replay_features`) keeps every event of a sliding window; the
live store (`live.EntityState`, SQL or Redis) keeps a few numbers per entity instead:
two time buckets per window (the older one weighted by how much of it still overlaps
the window), whole UTC days for the merchant's delayed counters (only the days a payment
reads, and the merchant's first-seen time, so its age is exact). `replay_live` replays a
transaction stream through the live code path — the same `model_row`,
`recorded_states`, `merchant_first_seen_to_write` and `relabelled_states` that
`RiskService.assess` and the fraud labels use — with labels revealed exactly as the
backtest reveals them, and `compare` says how much the features, the scores and the
decisions differ.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from smartpay.risk.features import (
    DEFAULT_LABEL_DELAY_DAYS,
    FEATURE_NAMES,
    N_FEATURES,
    SECONDS_PER_DAY,
    replay_features,
)
from smartpay.risk.live import MemoryLiveFeatureStore, entity_key, terminal_day_range
from smartpay.risk.metrics import auc_roc, average_precision
from smartpay.risk.model import RiskModel
from smartpay.risk.rules import DEFAULT_BLOCK_SCORE, DEFAULT_REVIEW_SCORE
from smartpay.risk.service import (
    PaymentSignals,
    label_keys,
    merchant_first_seen_to_write,
    model_row,
    recorded_states,
    relabelled_states,
)
from smartpay.risk.transactions import TransactionTable

# The simulated stream has one currency; its amounts are cents of it.
REPLAY_CURRENCY = "usd"


def signals_of_transaction(table: TransactionTable, index: int) -> PaymentSignals:
    """A simulated transaction as the payment path sees it: the handbook's customer is the
    card (fingerprint), its terminal the merchant."""
    return PaymentSignals(
        merchant_id=table.terminal_ids[index],
        timestamp=float(table.timestamps[index]),
        amount=int(table.amounts_cents[index]),
        currency=REPLAY_CURRENCY,
        card_fingerprint=table.customer_ids[index],
    )


def replay_live(
    table: TransactionTable,
    store: MemoryLiveFeatureStore | None = None,
    label_delay_days: float = DEFAULT_LABEL_DELAY_DAYS,
    on_progress: Callable[[int, int], None] | None = None,
) -> npt.NDArray[np.float64]:
    """Feature rows of every transaction of `table` (sorted by time) from the live store.

    Each is computed before the transaction is recorded; each fraud label reaches the
    store `label_delay_days` after its transaction, as in `replay_features`.
    """
    store = store if store is not None else MemoryLiveFeatureStore()
    delay = label_delay_days * SECONDS_PER_DAY
    size = len(table)
    matrix = np.empty((size, N_FEATURES), dtype=np.float64)
    labels = table.is_fraud.tolist()
    unrevealed: deque[PaymentSignals] = deque()
    progress_every = max(size // 200, 1)
    for index in range(size):
        signals = signals_of_transaction(table, index)
        now = signals.timestamp
        while unrevealed and unrevealed[0].timestamp + delay <= now:
            fraud = unrevealed.popleft()
            keys = label_keys(fraud)
            days = terminal_day_range(fraud.timestamp, delay)
            snapshot = store.snapshot(fraud.merchant_id, list(keys.values()), days)
            store.apply(
                fraud.merchant_id,
                relabelled_states(fraud, snapshot, keys, is_fraud=True),
                day=int(fraud.timestamp // SECONDS_PER_DAY),
                transactions=0,
                frauds=1,
            )
        entities = signals.entities()
        keys = {kind: entity_key(kind, value, REPLAY_CURRENCY) for kind, value in entities.items()}
        snapshot = store.snapshot(
            signals.merchant_id, list(keys.values()), terminal_day_range(now, delay)
        )
        matrix[index] = model_row(signals, snapshot, keys, delay)
        store.apply(
            signals.merchant_id,
            recorded_states(signals, snapshot, keys, entities),
            day=int(now // SECONDS_PER_DAY),
            transactions=1,
            frauds=0,
            first_seen=merchant_first_seen_to_write(snapshot, now),
        )
        if labels[index]:
            unrevealed.append(signals)
        if on_progress is not None and index % progress_every == 0:
            on_progress(index, size)
    if on_progress is not None:
        on_progress(size, size)
    return matrix


@dataclass(frozen=True, slots=True)
class FeatureGap:
    feature: str
    mean_abs_difference: float  # over rows where both are defined
    relative_difference: float  # that, over the mean absolute exact value
    undefined_mismatch: float  # share of rows defined on one side only


@dataclass(frozen=True, slots=True)
class ParityReport:
    n: int
    n_fraud: int
    score_mean_abs_difference: float
    score_p99_abs_difference: float
    share_scores_differing_over_10: float
    share_decisions_changed: float  # allow/review/block by the default score bands
    decisions_changed_on_fraud: float
    offline_auc: float
    live_auc: float
    offline_average_precision: float
    live_average_precision: float
    features: tuple[FeatureGap, ...]  # widest gaps first

    def summary(self) -> dict[str, float | int]:
        return {
            "n": self.n,
            "n_fraud": self.n_fraud,
            "score_mean_abs_difference": round(self.score_mean_abs_difference, 2),
            "score_p99_abs_difference": round(self.score_p99_abs_difference, 1),
            "share_scores_differing_over_10": round(self.share_scores_differing_over_10, 4),
            "share_decisions_changed": round(self.share_decisions_changed, 4),
            "decisions_changed_on_fraud": round(self.decisions_changed_on_fraud, 4),
            "offline_auc": round(self.offline_auc, 4),
            "live_auc": round(self.live_auc, 4),
            "offline_average_precision": round(self.offline_average_precision, 4),
            "live_average_precision": round(self.live_average_precision, 4),
        }


def score_bands(
    scores: npt.NDArray[np.int64],
    block_score: int = DEFAULT_BLOCK_SCORE,
    review_score: int = DEFAULT_REVIEW_SCORE,
) -> npt.NDArray[np.int64]:
    """0 allow, 1 review, 2 block: what the default score rules decide."""
    return (scores >= review_score).astype(np.int64) + (scores >= block_score).astype(np.int64)


def _feature_gaps(
    exact: npt.NDArray[np.float64], live: npt.NDArray[np.float64]
) -> tuple[FeatureGap, ...]:
    gaps = []
    for column, name in enumerate(FEATURE_NAMES):
        left, right = exact[:, column], live[:, column]
        left_nan, right_nan = np.isnan(left), np.isnan(right)
        both = ~left_nan & ~right_nan
        difference = float(np.mean(np.abs(left[both] - right[both]))) if both.any() else 0.0
        scale = float(np.mean(np.abs(left[both]))) if both.any() else 0.0
        gaps.append(
            FeatureGap(
                feature=name,
                mean_abs_difference=difference,
                relative_difference=difference / scale if scale > 0 else math.nan,
                undefined_mismatch=float(np.mean(left_nan != right_nan)),
            )
        )
    gaps.sort(
        key=lambda gap: (
            -(gap.relative_difference if not math.isnan(gap.relative_difference) else 0.0)
            - gap.undefined_mismatch
        )
    )
    return tuple(gaps)


def compare(
    table: TransactionTable,
    model: RiskModel,
    *,
    skip_days: float = 0.0,
    label_delay_days: float = DEFAULT_LABEL_DELAY_DAYS,
    live_rows: npt.NDArray[np.float64] | None = None,
) -> ParityReport:
    """Replay `table` both ways and compare the rows after the first `skip_days` days
    (while both stores fill up, the two agree trivially)."""
    exact = replay_features(table, label_delay_days=label_delay_days)
    live = live_rows if live_rows is not None else replay_live(table, None, label_delay_days)
    start = table.timestamps[0] + skip_days * SECONDS_PER_DAY
    kept = table.timestamps >= start
    exact, live = exact[kept], live[kept]
    labels = table.is_fraud[kept]
    exact_scores, live_scores = model.scores(exact), model.scores(live)
    differences = np.abs(exact_scores - live_scores).astype(np.float64)
    changed = score_bands(exact_scores) != score_bands(live_scores)
    fraud = labels == 1
    return ParityReport(
        n=int(kept.sum()),
        n_fraud=int(fraud.sum()),
        score_mean_abs_difference=float(differences.mean()),
        score_p99_abs_difference=float(np.percentile(differences, 99)),
        share_scores_differing_over_10=float(np.mean(differences > 10)),
        share_decisions_changed=float(changed.mean()),
        decisions_changed_on_fraud=float(changed[fraud].mean()) if fraud.any() else 0.0,
        offline_auc=auc_roc(labels, exact_scores.astype(np.float64)),
        live_auc=auc_roc(labels, live_scores.astype(np.float64)),
        offline_average_precision=average_precision(labels, exact_scores.astype(np.float64)),
        live_average_precision=average_precision(labels, live_scores.astype(np.float64)),
        features=_feature_gaps(exact, live),
    )
