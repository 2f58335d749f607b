"""Fraud-detection metrics in NumPy: AUC-ROC, average precision, card precision@k.

AUC and AP follow the usual definitions (scikit-learn's `roc_auc_score` and
`average_precision_score`: ties share a rank, AP is the step-wise sum of precision
times recall gained). Card precision@k is the handbook's: each day, the k customers
(cards) with the highest maximum score that day; the share of them that had a fraud
that day; the mean over days.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

# The handbook's k: investigators can check about 100 cards a day.
DEFAULT_CARDS_PER_DAY = 100


def auc_roc(labels: npt.NDArray[np.integer], scores: npt.NDArray[np.floating]) -> float:
    """Area under the ROC curve (the Mann–Whitney statistic); NaN if one class is absent."""
    positives = labels.astype(bool)
    n_positive = int(positives.sum())
    n_negative = len(labels) - n_positive
    if n_positive == 0 or n_negative == 0:
        return float("nan")
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    # Tied scores share the mean of the ranks they span (ranks start at 1).
    upper_rank = np.cumsum(counts)
    mean_rank = upper_rank - (counts - 1) / 2.0
    rank_sum = float(mean_rank[inverse][positives].sum())
    return (rank_sum - n_positive * (n_positive + 1) / 2.0) / (n_positive * n_negative)


def average_precision(labels: npt.NDArray[np.integer], scores: npt.NDArray[np.floating]) -> float:
    """Average precision: Σ (recall_i − recall_{i−1}) · precision_i over distinct thresholds."""
    n_positive = int(labels.astype(bool).sum())
    if n_positive == 0:
        return float("nan")
    order = np.argsort(-scores, kind="stable")
    sorted_scores = scores[order]
    sorted_labels = labels[order].astype(np.int64)
    # The last row of each run of equal scores is where a threshold ends.
    threshold_ends = np.flatnonzero(np.r_[np.diff(sorted_scores) != 0, True])
    true_positives = np.cumsum(sorted_labels)[threshold_ends]
    flagged = threshold_ends + 1
    precision = true_positives / flagged
    recall = true_positives / n_positive
    recall_gained = np.diff(np.r_[0.0, recall])
    return float((recall_gained * precision).sum())


@dataclass(frozen=True, slots=True)
class CardPrecision:
    mean: float
    per_day: dict[int, float]  # by day number, for the days that have transactions


def card_precision_at_k(
    days: npt.NDArray[np.integer],
    customers: npt.NDArray[np.integer],
    labels: npt.NDArray[np.integer],
    scores: npt.NDArray[np.floating],
    k: int = DEFAULT_CARDS_PER_DAY,
    exclude_detected: bool = True,
) -> CardPrecision:
    """Card precision@k per day and its mean, as in the handbook.

    With `exclude_detected` (the handbook's choice), a customer found compromised in a
    day's top k is blocked from then on: it drops out of later days' rankings, so each
    compromised card is counted once. `customers` are integer codes.
    """
    detected: set[int] = set()
    per_day: dict[int, float] = {}
    for day in np.unique(days):
        in_day = days == day
        day_customers = customers[in_day]
        if exclude_detected and detected:
            keep = ~np.isin(day_customers, np.fromiter(detected, dtype=np.int64))
        else:
            keep = np.ones(len(day_customers), dtype=bool)
        day_customers = day_customers[keep]
        day_scores = scores[in_day][keep]
        day_labels = labels[in_day][keep]
        unique_customers, inverse = np.unique(day_customers, return_inverse=True)
        max_score = np.full(len(unique_customers), -np.inf)
        np.maximum.at(max_score, inverse, day_scores)
        had_fraud = np.zeros(len(unique_customers), dtype=np.int64)
        np.maximum.at(had_fraud, inverse, day_labels.astype(np.int64))
        top = np.argsort(-max_score, kind="stable")[:k]
        hits = unique_customers[top][had_fraud[top] == 1]
        per_day[int(day)] = len(hits) / k
        detected.update(int(customer) for customer in hits)
    mean = float(np.mean(list(per_day.values()))) if per_day else float("nan")
    return CardPrecision(mean=mean, per_day=per_day)
