"""The fraud model: a LightGBM booster, its score calibration and its explanations.

A model lives in a directory of two files: ``booster.txt`` (LightGBM's text format)
and ``model.json`` (version, feature names, label delay, training report and the
calibration). The shipped model is in ``smartpay/risk/model/``.

Scores run from 0 to 1000 and are calibrated on legitimate traffic, the way AWS Fraud
Detector's are: a score s means that flagging every transaction scoring s or more
flags a share of about (1000 − s) / 1000 of legitimate transactions. So a threshold of
990 stops about 1 % of good customers, 999 about 0.1 %, whatever the model inside.
The mapping is a table of legitimate raw-score quantiles measured on held-out data.

Single-row scoring calls the booster on one NumPy row; no pandas on that path.
"""

from __future__ import annotations

import bisect
import ctypes
import itertools
import json
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from smartpay.risk.features import FEATURE_NAMES

if TYPE_CHECKING:
    import lightgbm

SHIPPED_MODEL_DIR = Path(__file__).resolve().parent / "model"
BOOSTER_FILE = "booster.txt"
METADATA_FILE = "model.json"
METADATA_FORMAT = 1
MAX_SCORE = 1000
# One calibration knot per score point: the score resolution is 0.1 % of legitimate traffic.
CALIBRATION_LEVELS = MAX_SCORE + 1
# Reasons returned with a score by default: enough for an analyst, short enough to read.
DEFAULT_REASON_COUNT = 3
# Scoring one row runs on one thread: a thread pool costs more than it saves on one row.
SINGLE_ROW_THREADS = 1
# LightGBM C API constants (c_api.h): predict the raw score, from float64 input.
_C_API_PREDICT_RAW_SCORE = 1
_C_API_PREDICT_CONTRIB = 3
_C_API_DTYPE_FLOAT64 = 1


class ModelFileError(ValueError):
    """A model directory that is missing, malformed or built for other features."""


@dataclass(frozen=True, slots=True)
class ScoreCalibration:
    """Raw booster score → 0–1000, such that P(legit score ≥ s) ≈ (1000 − s) / 1000.

    `raw_knots[i]` is the legitimate raw-score quantile at level `score_knots[i] / 1000`;
    between knots the score is interpolated linearly, so the mapping is monotone. Where
    many legitimate scores tie, the first knot of the tie is kept: the score there errs
    on the side of a higher false-positive rate than it states, never a lower one.
    """

    raw_knots: tuple[float, ...]
    score_knots: tuple[float, ...]

    @classmethod
    def fit(cls, legitimate_raw_scores: npt.NDArray[np.float64]) -> ScoreCalibration:
        if len(legitimate_raw_scores) == 0:
            raise ValueError("calibration needs legitimate transactions")
        levels = np.linspace(0.0, 1.0, CALIBRATION_LEVELS)
        quantiles = np.quantile(legitimate_raw_scores, levels)
        first_of_ties = np.r_[True, np.diff(quantiles) > 0]
        return cls(
            raw_knots=tuple(float(value) for value in quantiles[first_of_ties]),
            score_knots=tuple(float(value) for value in levels[first_of_ties] * MAX_SCORE),
        )

    def score(self, raw_score: float) -> int:
        """One raw score → 0–1000, in plain Python (a NumPy call per row costs more)."""
        raw, scores = self.raw_knots, self.score_knots
        if raw_score <= raw[0]:
            return int(scores[0])
        if raw_score >= raw[-1]:
            return int(scores[-1])
        right = bisect.bisect_right(raw, raw_score)
        left = right - 1
        fraction = (raw_score - raw[left]) / (raw[right] - raw[left])
        return int(scores[left] + fraction * (scores[right] - scores[left]))

    def scores(self, raw_scores: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        mapped = np.interp(raw_scores, self.raw_knots, self.score_knots)
        return np.floor(mapped).astype(np.int64)

    def false_positive_rate(self, score: int) -> float:
        """The stated share of legitimate traffic scoring `score` or more."""
        return (MAX_SCORE - score) / MAX_SCORE

    def to_json(self) -> dict[str, list[float]]:
        return {"raw_knots": list(self.raw_knots), "score_knots": list(self.score_knots)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ScoreCalibration:
        raw = tuple(float(value) for value in data["raw_knots"])
        scores = tuple(float(value) for value in data["score_knots"])
        if len(raw) != len(scores) or len(raw) < 2:
            raise ValueError("calibration needs two or more knots of (raw, score)")
        if any(b <= a for a, b in itertools.pairwise(raw)):
            raise ValueError("calibration raw knots must increase")
        if any(b < a for a, b in itertools.pairwise(scores)):
            raise ValueError("calibration score knots must not decrease")
        return cls(raw_knots=raw, score_knots=scores)


@dataclass(frozen=True, slots=True)
class Reason:
    """A feature that pushed the score up, with its value and its share of the raw score."""

    feature: str
    value: float
    contribution: float


@dataclass(frozen=True, slots=True)
class RiskScore:
    score: int  # 0–1000, calibrated on legitimate traffic
    fraud_probability: float  # the booster's own probability, uncalibrated
    reasons: tuple[Reason, ...] = ()


@dataclass(frozen=True, slots=True)
class ModelMetadata:
    version: str
    feature_names: tuple[str, ...]
    label_delay_days: float
    calibration: ScoreCalibration
    training_report: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        import lightgbm  # loaded on use: importing it takes a while (see `load`)

        return {
            "format": METADATA_FORMAT,
            "version": self.version,
            "lightgbm_version": lightgbm.__version__,
            "feature_names": list(self.feature_names),
            "label_delay_days": self.label_delay_days,
            "calibration": self.calibration.to_json(),
            "training_report": self.training_report,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelMetadata:
        if data.get("format") != METADATA_FORMAT:
            raise ValueError(f"format {data.get('format')!r}, expected {METADATA_FORMAT}")
        return cls(
            version=str(data["version"]),
            feature_names=tuple(str(name) for name in data["feature_names"]),
            label_delay_days=float(data["label_delay_days"]),
            calibration=ScoreCalibration.from_json(data["calibration"]),
            training_report=dict(data.get("training_report", {})),
        )


def _sigmoid(raw: float) -> float:
    if raw >= 0:
        return 1.0 / (1.0 + math.exp(-raw))
    exp = math.exp(raw)
    return exp / (1.0 + exp)


class _SingleRowPredictor:
    """The booster's raw score for one float64 row, through LightGBM's single-row fast path.

    `Booster.predict` validates and wraps its input on every call (about 90 µs for one
    row); LightGBM's C API has a prepared single-row predictor for exactly this case
    (``LGBM_BoosterPredictForMatSingleRowFast``), reached here through the booster's own
    handle and library. It reuses one output buffer, so one instance must not be shared
    between threads; `RiskModel` creates one per thread.
    """

    def __init__(
        self,
        booster: lightgbm.Booster,
        n_features: int,
        predict_type: int = _C_API_PREDICT_RAW_SCORE,
    ) -> None:
        from lightgbm.basic import _safe_call
        from lightgbm.libpath import _LIB

        self._library = _LIB
        self._check = _safe_call
        self._n_features = n_features
        self._config = ctypes.c_void_p()
        self._check(
            _LIB.LGBM_BoosterPredictForMatSingleRowFastInit(
                booster._handle,
                ctypes.c_int(predict_type),
                ctypes.c_int(0),  # from the first iteration
                ctypes.c_int(-1),  # to the last (the saved model is the best iteration)
                ctypes.c_int(_C_API_DTYPE_FLOAT64),
                ctypes.c_int32(n_features),
                ctypes.c_char_p(f"num_threads={SINGLE_ROW_THREADS}".encode()),
                ctypes.byref(self._config),
            )
        )
        self._booster = booster  # the fast config points into it: keep it alive
        self._out_length = ctypes.c_int64(0)
        # A raw score is one number; contributions are one per feature plus the bias.
        outputs = n_features + 1 if predict_type == _C_API_PREDICT_CONTRIB else 1
        self._out = (ctypes.c_double * outputs)()
        self._predict = _LIB.LGBM_BoosterPredictForMatSingleRowFast

    def __call__(self, row: npt.NDArray[np.float64]) -> float:
        self._run(row)
        return float(self._out[0])

    def contributions(self, row: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """SHAP contributions of each feature (a predictor made for _C_API_PREDICT_CONTRIB)."""
        self._run(row)
        return np.ctypeslib.as_array(self._out)[: self._n_features].copy()

    def _run(self, row: npt.NDArray[np.float64]) -> None:
        if row.dtype != np.float64 or not row.flags.c_contiguous or row.size != self._n_features:
            row = np.ascontiguousarray(row, dtype=np.float64).reshape(-1)
            if row.size != self._n_features:
                raise ValueError(f"a row has {self._n_features} features, not {row.size}")
        self._check(
            self._predict(
                self._config,
                row.ctypes.data_as(ctypes.c_void_p),
                ctypes.byref(self._out_length),
                self._out,
            )
        )

    def __del__(self) -> None:
        config = getattr(self, "_config", None)
        if config is not None and config.value:
            self._library.LGBM_FastConfigFree(config)


class RiskModel:
    """A trained booster with its calibration; scores feature rows from `features`."""

    def __init__(self, booster: lightgbm.Booster, metadata: ModelMetadata) -> None:
        if tuple(booster.feature_name()) != metadata.feature_names:
            raise ModelFileError("the booster's features differ from the metadata's")
        self.booster = booster
        self.metadata = metadata
        self.calibration = metadata.calibration
        self._per_thread = threading.local()

    @classmethod
    def load(cls, directory: Path = SHIPPED_MODEL_DIR) -> RiskModel:
        """Load a model directory; it must have been trained on today's FEATURE_NAMES."""
        booster_path, metadata_path = directory / BOOSTER_FILE, directory / METADATA_FILE
        for path in (booster_path, metadata_path):
            if not path.is_file():
                raise ModelFileError(f"{path}: no such model file")
        try:
            metadata = ModelMetadata.from_json(json.loads(metadata_path.read_text("utf-8")))
        except (ValueError, KeyError, TypeError) as error:
            raise ModelFileError(f"{metadata_path}: {error}") from None
        if metadata.feature_names != FEATURE_NAMES:
            raise ModelFileError(
                f"{metadata_path}: trained on other features than this code computes; "
                "retrain with `smartpay risk train`"
            )
        # Imported here so that importing this module (and the `smartpay` command) stays quick.
        import lightgbm

        booster = lightgbm.Booster(model_str=booster_path.read_text("utf-8"))
        return cls(booster, metadata)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / BOOSTER_FILE).write_text(self.booster.model_to_string(), "utf-8")
        (directory / METADATA_FILE).write_text(
            json.dumps(self.metadata.to_json(), indent=1) + "\n", "utf-8"
        )

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self.metadata.feature_names

    def raw_scores(self, features: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Raw (log-odds) scores of a feature matrix, one row per transaction."""
        predicted = self.booster.predict(features, raw_score=True)
        return np.asarray(predicted, dtype=np.float64)

    def scores(self, features: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        return self.calibration.scores(self.raw_scores(features))

    def raw_score(self, row: npt.NDArray[np.float64]) -> float:
        """The raw score of one feature row (shape (N_FEATURES,)), on the fast path."""
        predictor: _SingleRowPredictor | None = getattr(self._per_thread, "predictor", None)
        if predictor is None:
            predictor = _SingleRowPredictor(self.booster, len(self.feature_names))
            self._per_thread.predictor = predictor
        return predictor(row)

    def score(
        self, row: npt.NDArray[np.float64], reason_count: int = DEFAULT_REASON_COUNT
    ) -> RiskScore:
        """Score one feature row; with `reason_count` > 0, say which features pushed it up."""
        raw = self.raw_score(row)
        reasons = self.reasons(row, reason_count) if reason_count > 0 else ()
        return RiskScore(
            score=self.calibration.score(raw),
            fraud_probability=_sigmoid(raw),
            reasons=reasons,
        )

    def reasons(
        self, row: npt.NDArray[np.float64], count: int = DEFAULT_REASON_COUNT
    ) -> tuple[Reason, ...]:
        """The `count` features with the largest positive SHAP contributions to this row.

        Through the single-row fast path too: `Booster.predict(pred_contrib=True)` gives
        the same numbers but costs about 1 ms of input checks and wrapping per row.
        """
        explainer: _SingleRowPredictor | None = getattr(self._per_thread, "explainer", None)
        if explainer is None:
            explainer = _SingleRowPredictor(
                self.booster, len(self.feature_names), _C_API_PREDICT_CONTRIB
            )
            self._per_thread.explainer = explainer
        contributions = explainer.contributions(row)
        order = np.argsort(-contributions)[:count]
        return tuple(
            Reason(
                feature=self.feature_names[index],
                value=float(row[index]),
                contribution=float(contributions[index]),
            )
            for index in order
            if contributions[index] > 0
        )


def feature_names_list(names: Sequence[str] = FEATURE_NAMES) -> list[str]:
    """Feature names as LightGBM wants them (a list of strings)."""
    return list(names)
