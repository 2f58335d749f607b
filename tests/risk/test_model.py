"""The model: scenarios caught, calibration monotonic, reasons, files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from smartpay.risk.features import FEATURE_NAMES, N_FEATURES, SECONDS_PER_DAY
from smartpay.risk.model import (
    MAX_SCORE,
    METADATA_FILE,
    SHIPPED_MODEL_DIR,
    ModelFileError,
    ModelMetadata,
    RiskModel,
    ScoreCalibration,
)
from smartpay.risk.simulator import FraudScenario
from smartpay.risk.training import fit_booster
from tests.risk.conftest import Replayed

TRAIN_DAYS = (30, 50)  # after a month of history, as the backtest's window would be
TEST_DAYS = (57, 70)  # after the label delay
# A flag rate investigators could work with: 1 % of legitimate transactions.
LEGIT_FLAG_RATE = 0.01


@pytest.fixture(scope="module")
def small_model(small_replayed: Replayed) -> tuple[RiskModel, np.ndarray]:
    """A model fitted on days 30–50 of the small simulation; the test-day mask."""
    table = small_replayed.simulation.table
    day = (table.timestamps - table.timestamps[0]) // SECONDS_PER_DAY
    train = (day >= TRAIN_DAYS[0]) & (day < TRAIN_DAYS[1])
    test = (day >= TEST_DAYS[0]) & (day < TEST_DAYS[1])
    booster = fit_booster(small_replayed.features[train], table.is_fraud[train], rounds=100)
    legit_train_raw = booster.predict(small_replayed.features[train], raw_score=True)
    calibration = ScoreCalibration.fit(legit_train_raw[table.is_fraud[train] == 0])
    metadata = ModelMetadata("test", FEATURE_NAMES, 7, calibration)
    return RiskModel(booster, metadata), test


def _flagged_share(
    small_replayed: Replayed, small_model: tuple[RiskModel, np.ndarray], rows: np.ndarray
) -> float:
    """Share of `rows` flagged at the threshold that flags LEGIT_FLAG_RATE of test legit."""
    model, test = small_model
    raw = model.raw_scores(small_replayed.features)
    legit = test & (small_replayed.simulation.table.is_fraud == 0)
    threshold = np.quantile(raw[legit], 1 - LEGIT_FLAG_RATE)
    return float((raw[rows] > threshold).mean())


def test_scenario_one_high_amounts_are_caught(
    small_replayed: Replayed, small_model: tuple[RiskModel, np.ndarray]
) -> None:
    # Scenario 1's rule, whichever scenario made the amount: every amount over 220 is fraud.
    rows = small_model[1] & (small_replayed.simulation.table.amounts_cents > 220_00)
    assert rows.sum() >= 20
    assert _flagged_share(small_replayed, small_model, rows) > 0.95


def test_scenario_two_compromised_terminals_are_caught_once_labels_arrive(
    small_replayed: Replayed, small_model: tuple[RiskModel, np.ndarray]
) -> None:
    simulation = small_replayed.simulation
    table = simulation.table
    day = (table.timestamps - table.timestamps[0]) // SECONDS_PER_DAY
    # Days since the compromise of the transaction's terminal began (latest compromise).
    since = np.full(len(table), np.inf)
    for first_day, terminal in simulation.compromised_terminals:
        hit = (simulation.terminal_index == terminal) & (day >= first_day) & (day < first_day + 28)
        since[hit] = np.minimum(since[hit], day[hit] - first_day)
    scenario_two = small_model[1] & (
        simulation.fraud_scenario == FraudScenario.COMPROMISED_TERMINAL
    )
    # A day of margin past the delay, so at least one earlier label has come back.
    learnt = scenario_two & (since >= 9)
    unknown = scenario_two & (since < 7)
    assert learnt.sum() >= 100 and unknown.sum() >= 50
    assert _flagged_share(small_replayed, small_model, learnt) > 0.8
    # Before any label comes back the terminal looks like any other: about the base rate.
    assert _flagged_share(small_replayed, small_model, unknown) < 0.15


def test_scenario_three_inflated_amounts_of_leaked_customers_are_caught(
    small_replayed: Replayed, small_model: tuple[RiskModel, np.ndarray]
) -> None:
    scenario = small_replayed.simulation.fraud_scenario
    rows = small_model[1] & (scenario == FraudScenario.COMPROMISED_CUSTOMER)
    assert rows.sum() >= 50
    # ×5 of a low draw can look ordinary; most of them do not.
    assert _flagged_share(small_replayed, small_model, rows) > 0.7


def test_calibration_is_monotonic_and_maps_scores_to_false_positive_rates() -> None:
    rng = np.random.default_rng(5)
    # Tree models give tied raw scores: include a block of ties.
    fitted = np.r_[rng.normal(-5, 1, 50_000), np.full(10_000, -6.0)]
    calibration = ScoreCalibration.fit(fitted)
    grid = np.linspace(-12, 3, 20_001)
    scores = calibration.scores(grid)
    assert np.all(np.diff(scores) >= 0)
    assert scores[0] == 0 and scores[-1] == MAX_SCORE
    assert [calibration.score(x) for x in grid[::1000]] == scores[::1000].tolist()
    fresh = np.r_[rng.normal(-5, 1, 50_000), np.full(10_000, -6.0)]
    fresh_scores = calibration.scores(fresh)
    for threshold in (500, 900, 990):
        stated = calibration.false_positive_rate(threshold)
        measured = float((fresh_scores >= threshold).mean())
        # Never optimistic by more than sampling noise; within 1.5 points of what it states.
        assert measured <= stated + 0.005
        assert abs(measured - stated) < 0.015


def test_shipped_model_loads_and_its_calibration_is_monotonic() -> None:
    model = RiskModel.load(SHIPPED_MODEL_DIR)
    knots = np.asarray(model.calibration.raw_knots)
    assert np.all(np.diff(knots) > 0)
    assert np.all(np.diff(model.calibration.score_knots) >= 0)
    scores = model.calibration.scores(np.linspace(knots[0] - 1, knots[-1] + 1, 5000))
    assert np.all(np.diff(scores) >= 0)
    assert model.metadata.training_report["train_frauds"] > 0


def test_single_row_score_matches_the_batch_and_reasons_explain_it(
    small_replayed: Replayed, small_model: tuple[RiskModel, np.ndarray]
) -> None:
    model, test = small_model
    scenario = small_replayed.simulation.fraud_scenario
    row_index = int(np.flatnonzero(test & (scenario == FraudScenario.HIGH_AMOUNT))[0])
    row = small_replayed.features[row_index]
    risk = model.score(row)
    assert risk.score == int(model.scores(row[None, :])[0])
    assert risk.score >= 990
    assert 0.5 < risk.fraud_probability <= 1
    assert risk.reasons and risk.reasons[0].feature in FEATURE_NAMES
    assert "amount" in [reason.feature for reason in risk.reasons]
    # SHAP contributions add up to the raw score.
    contributions = model.booster.predict(row[None, :], pred_contrib=True)[0]
    assert np.isclose(contributions.sum(), model.raw_score(row))
    assert model.score(row, reason_count=0).reasons == ()
    # The single-row fast path agrees with the booster's own batch prediction, NaNs included.
    rows = small_replayed.features[test][:300]
    single = np.array([model.raw_score(np.ascontiguousarray(one)) for one in rows])
    assert np.isnan(rows).any()
    assert np.allclose(single, model.raw_scores(rows), rtol=0, atol=1e-9)


def test_model_round_trips_and_rejects_other_features(
    tmp_path: Path, small_model: tuple[RiskModel, np.ndarray]
) -> None:
    model = small_model[0]
    model.save(tmp_path)
    again = RiskModel.load(tmp_path)
    row = np.linspace(0, 1, N_FEATURES)
    assert again.raw_score(row) == pytest.approx(model.raw_score(row))
    assert again.calibration == model.calibration
    metadata = json.loads((tmp_path / METADATA_FILE).read_text())
    metadata["feature_names"] = [*metadata["feature_names"][:-1], "something_else"]
    (tmp_path / METADATA_FILE).write_text(json.dumps(metadata))
    with pytest.raises(ModelFileError, match="retrain"):
        RiskModel.load(tmp_path)
    with pytest.raises(ModelFileError, match="no such model file"):
        RiskModel.load(tmp_path / "missing")
