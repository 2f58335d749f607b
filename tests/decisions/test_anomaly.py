"""The exported Isolation Forest scores rows exactly as scikit-learn's does, survives a
save and load without pickle, and the shipped forest loads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.ensemble import IsolationForest

from smartpay.decisions.anomaly import AnomalyForest, fit_forest
from smartpay.risk.features import N_FEATURES


def test_export_matches_scikit_learn_and_round_trips(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    rows = rng.normal(size=(2_000, N_FEATURES))
    rows[:50] += 6.0  # a few outliers
    labels = np.zeros(len(rows), dtype=np.int8)
    labels[:50] = 1
    forest = fit_forest(rows, rows, labels, seed=5)
    reference = IsolationForest(n_estimators=100, max_samples=256, random_state=5).fit(rows)
    expected = -reference.score_samples(rows)
    assert np.allclose(forest.raw_scores(rows), expected, atol=1e-6)
    path = tmp_path / "forest.npz"
    forest.save(path)
    loaded = AnomalyForest.load(path)
    assert np.array_equal(loaded.scores(rows), forest.scores(rows))
    # Outliers score high, and their band's fraud rate is high.
    assert loaded.score(rows[0]).score > 990
    assert loaded.score(rows[0]).fraud_probability > loaded.score(rows[-1]).fraud_probability


def test_missing_values_are_filled_not_fatal() -> None:
    rng = np.random.default_rng(4)
    rows = rng.normal(size=(500, N_FEATURES))
    forest = fit_forest(rows, rows, np.zeros(500, dtype=np.int8))
    row = rows[0].copy()
    row[[1, 5, 9]] = np.nan
    assert 0 <= forest.score(row).score <= 1000


def test_the_shipped_forest_loads() -> None:
    forest = AnomalyForest.load()
    assert forest.metadata["trees"] == 100
