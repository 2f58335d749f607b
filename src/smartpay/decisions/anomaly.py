"""The anomaly voter's model: an Isolation Forest on the risk model's features.

A different kind of model from the gradient-boosted risk model: unsupervised, it flags
transactions that are easy to isolate from the rest, without having learnt what fraud
looks like, so its errors are not the booster's errors. Trained with scikit-learn's
``IsolationForest`` (by ``smartpay risk train`` or ``smartpay decisions train-anomaly``),
then exported to plain arrays (``anomaly_forest.npz`` next to the risk model), so that
loading needs neither scikit-learn nor pickle, and scoring one row is a few vectorised
NumPy steps (about 50 µs) rather than a Python loop over estimators.

Scores are calibrated the way the risk model's are (``risk.model.ScoreCalibration``): an
anomaly score s flags about (1000 − s) / 1000 of legitimate transactions. A table of
fraud rates per score band, measured on held-out labelled data, turns a score into the
fraud probability the weighted strategies average.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from smartpay.risk.features import DEFAULT_LABEL_DELAY_DAYS, FEATURE_NAMES, replay_features
from smartpay.risk.model import SHIPPED_MODEL_DIR, ModelFileError, ScoreCalibration
from smartpay.risk.transactions import TransactionTable

FOREST_FILE = "anomaly_forest.npz"
SHIPPED_FOREST_PATH = SHIPPED_MODEL_DIR / FOREST_FILE
FOREST_FORMAT = 1
# Isolation Forest's published defaults (Liu, Ting and Zhou, 2008): 100 trees of 256
# samples each; more of either barely changes the scores.
N_TREES = 100
SAMPLES_PER_TREE = 256
# Score bands of the fraud-rate table: finer where the fraud is (the top scores).
PROBABILITY_BAND_EDGES = (0, 500, 800, 900, 950, 980, 990, 995, 1001)
# Pseudo-observations at the overall fraud rate added to each band, so that a thin band
# does not claim a rate of 0 or 1.
BAND_PRIOR_WEIGHT = 20.0
_EULER_GAMMA = 0.5772156649015329


def average_path_length(n: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """c(n): the mean path length of an unsuccessful search in a binary tree of n points
    (the paper's normalisation; 0 for n ≤ 1, 1 for n = 2)."""
    n = np.asarray(n, dtype=np.float64)
    out = np.zeros_like(n)
    two = n == 2
    many = n > 2
    out[two] = 1.0
    m = n[many]
    out[many] = 2.0 * (np.log(m - 1.0) + _EULER_GAMMA) - 2.0 * (m - 1.0) / m
    return out


@dataclass(frozen=True, slots=True)
class AnomalyScore:
    score: int  # 0–1000, calibrated on legitimate traffic
    fraud_probability: float  # the fraud rate of its score band on held-out data


class AnomalyForest:
    """Trees as padded arrays (one row per tree): ``feature[t, node]`` is -1 at a leaf,
    whose ``leaf_value`` is its depth plus c(samples in it)."""

    def __init__(
        self,
        *,
        feature: npt.NDArray[np.int32],
        threshold: npt.NDArray[np.float64],
        left: npt.NDArray[np.int32],
        right: npt.NDArray[np.int32],
        leaf_value: npt.NDArray[np.float64],
        fill_values: npt.NDArray[np.float64],
        calibration: ScoreCalibration,
        band_probabilities: tuple[float, ...],
        metadata: dict[str, Any],
    ) -> None:
        self.feature = feature
        self.threshold = threshold
        self.left = left
        self.right = right
        self.leaf_value = leaf_value
        self.fill_values = fill_values
        self.calibration = calibration
        self.band_probabilities = band_probabilities
        self.metadata = metadata
        self.max_depth = int(metadata["max_depth"])
        self._normaliser = float(average_path_length(np.array([metadata["samples_per_tree"]]))[0])
        self._trees = np.arange(feature.shape[0])

    def raw_scores(self, rows: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Anomaly of each row: the paper's s(x, n) = 2^(-E[h(x)]/c(n)) in (0, 1), higher
        for a row isolated in fewer splits (scikit-learn's score_samples is its negative)."""
        matrix = np.atleast_2d(np.asarray(rows, dtype=np.float64))
        matrix = np.where(np.isnan(matrix), self.fill_values, matrix)
        node = np.zeros((matrix.shape[0], len(self._trees)), dtype=np.int32)
        trees = self._trees[np.newaxis, :]
        samples = np.arange(matrix.shape[0])[:, np.newaxis]
        for _ in range(self.max_depth):
            feature = self.feature[trees, node]
            inner = feature >= 0
            if not inner.any():
                break
            values = matrix[samples, np.maximum(feature, 0)]
            goes_left = values <= self.threshold[trees, node]
            child = np.where(goes_left, self.left[trees, node], self.right[trees, node])
            node = np.where(inner, child, node)
        depth = self.leaf_value[trees, node].mean(axis=1)
        return np.asarray(2.0 ** (-depth / self._normaliser), dtype=np.float64)

    def scores(self, rows: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        return self.calibration.scores(self.raw_scores(rows))

    def probabilities(self, scores: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        bands = np.searchsorted(PROBABILITY_BAND_EDGES, scores, side="right") - 1
        bands = np.clip(bands, 0, len(self.band_probabilities) - 1)
        return np.asarray(self.band_probabilities, dtype=np.float64)[bands]

    def score(self, row: npt.NDArray[np.float64]) -> AnomalyScore:
        raw = float(self.raw_scores(row)[0])
        score = self.calibration.score(raw)
        probability = float(self.probabilities(np.array([score]))[0])
        return AnomalyScore(score=score, fraud_probability=probability)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            np.savez_compressed(
                handle,
                feature=self.feature,
                threshold=self.threshold,
                left=self.left,
                right=self.right,
                leaf_value=self.leaf_value,
                fill_values=self.fill_values,
                band_probabilities=np.asarray(self.band_probabilities),
                metadata=np.array(
                    json.dumps(
                        {
                            **self.metadata,
                            "format": FOREST_FORMAT,
                            "calibration": self.calibration.to_json(),
                        }
                    )
                ),
            )

    @classmethod
    def load(cls, path: Path = SHIPPED_FOREST_PATH) -> AnomalyForest:
        if not path.is_file():
            raise ModelFileError(f"{path}: no anomaly forest; train one with `smartpay risk train`")
        try:
            # allow_pickle=False: the file holds numbers and one JSON string, nothing
            # that could run code when loaded.
            with np.load(path, allow_pickle=False) as arrays:
                metadata = json.loads(str(arrays["metadata"]))
                if metadata.get("format") != FOREST_FORMAT:
                    raise ValueError(f"format {metadata.get('format')!r}")
                if tuple(metadata["feature_names"]) != FEATURE_NAMES:
                    raise ValueError("trained on other features than this code computes")
                return cls(
                    feature=arrays["feature"].astype(np.int32),
                    threshold=arrays["threshold"].astype(np.float64),
                    left=arrays["left"].astype(np.int32),
                    right=arrays["right"].astype(np.int32),
                    leaf_value=arrays["leaf_value"].astype(np.float64),
                    fill_values=arrays["fill_values"].astype(np.float64),
                    calibration=ScoreCalibration.from_json(metadata.pop("calibration")),
                    band_probabilities=tuple(float(p) for p in arrays["band_probabilities"]),
                    metadata=metadata,
                )
        except (KeyError, ValueError, TypeError) as error:
            raise ModelFileError(f"{path}: {error}") from None


def fit_forest(
    train_rows: npt.NDArray[np.float64],
    calibration_rows: npt.NDArray[np.float64],
    calibration_labels: npt.NDArray[np.integer[Any]],
    *,
    seed: int = 0,
    metadata: dict[str, Any] | None = None,
) -> AnomalyForest:
    """Fit scikit-learn's IsolationForest on ``train_rows`` (no labels), export it, and
    calibrate scores and band probabilities on the labelled ``calibration_rows``."""
    from sklearn.ensemble import IsolationForest  # training only: not needed to score

    fill_values = np.nanmedian(train_rows, axis=0)
    fill_values = np.where(np.isnan(fill_values), 0.0, fill_values)
    filled = np.where(np.isnan(train_rows), fill_values, train_rows)
    samples = min(SAMPLES_PER_TREE, len(filled))
    forest = IsolationForest(
        n_estimators=N_TREES, max_samples=samples, random_state=seed, n_jobs=1
    ).fit(filled)
    trees = [estimator.tree_ for estimator in forest.estimators_]
    width = max(tree.node_count for tree in trees)
    shape = (len(trees), width)
    feature = np.full(shape, -1, dtype=np.int32)
    threshold = np.zeros(shape, dtype=np.float64)
    left = np.zeros(shape, dtype=np.int32)
    right = np.zeros(shape, dtype=np.int32)
    leaf_value = np.zeros(shape, dtype=np.float64)
    max_depth = 0
    for index, (tree, columns) in enumerate(zip(trees, forest.estimators_features_, strict=True)):
        count = tree.node_count
        depth = np.zeros(count, dtype=np.float64)
        for node in range(count):  # children always follow their parent in sklearn's order
            for child in (tree.children_left[node], tree.children_right[node]):
                if child >= 0:
                    depth[child] = depth[node] + 1
        is_leaf = tree.children_left[:count] < 0
        mapped = np.asarray(columns)[np.maximum(tree.feature[:count], 0)]
        feature[index, :count] = np.where(is_leaf, -1, mapped)
        threshold[index, :count] = tree.threshold[:count]
        left[index, :count] = np.maximum(tree.children_left[:count], 0)
        right[index, :count] = np.maximum(tree.children_right[:count], 0)
        samples_in = tree.n_node_samples[:count].astype(np.float64)
        leaf_value[index, :count] = depth + average_path_length(samples_in)
        max_depth = max(max_depth, int(depth.max()))
    provisional = AnomalyForest(
        feature=feature,
        threshold=threshold,
        left=left,
        right=right,
        leaf_value=leaf_value,
        fill_values=fill_values,
        calibration=ScoreCalibration((0.0, 1.0), (0.0, 1000.0)),
        band_probabilities=(0.0,),
        metadata={"max_depth": max_depth, "samples_per_tree": samples},
    )
    raw = provisional.raw_scores(calibration_rows)
    labels = np.asarray(calibration_labels).astype(bool)
    calibration = ScoreCalibration.fit(raw[~labels])
    scores = calibration.scores(raw)
    overall = float(labels.mean()) if len(labels) else 0.0
    probabilities = []
    for low, high in itertools.pairwise(PROBABILITY_BAND_EDGES):
        band = (scores >= low) & (scores < high)
        frauds = float(labels[band].sum())
        probabilities.append(
            (frauds + BAND_PRIOR_WEIGHT * overall) / (float(band.sum()) + BAND_PRIOR_WEIGHT)
        )
    return AnomalyForest(
        feature=feature,
        threshold=threshold,
        left=left,
        right=right,
        leaf_value=leaf_value,
        fill_values=fill_values,
        calibration=calibration,
        band_probabilities=tuple(probabilities),
        metadata={
            **(metadata or {}),
            "feature_names": list(FEATURE_NAMES),
            "max_depth": max_depth,
            "samples_per_tree": samples,
            "trees": len(trees),
            "seed": seed,
        },
    )


def train_anomaly_forest(
    table: TransactionTable,
    label_delay_days: float = DEFAULT_LABEL_DELAY_DAYS,
    on_progress: Callable[[int, int], None] | None = None,
    source: str = "",
) -> AnomalyForest:
    """Replay ``table`` through the live feature code (the risk model's periods: train on
    its training period, calibrate on its calibration period) and fit the forest."""
    from smartpay.risk.training import time_split

    split = time_split(table.timestamps, label_delay_days)
    used = split.train | split.calibration
    features = replay_features(table, used, label_delay_days, on_progress=on_progress)
    train, calibrate = split.train[used], split.calibration[used]
    labels = table.is_fraud[used]
    return fit_forest(
        features[train],
        features[calibrate],
        labels[calibrate],
        metadata={"source": source, "label_delay_days": label_delay_days},
    )
