"""A shadow model (SMARTPAY_RISK_SHADOW_MODEL_DIR) is scored and stored, never deciding."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest

from smartpay.config import Settings
from smartpay.risk.model import METADATA_FILE, SHIPPED_MODEL_DIR
from tests.api.helpers import card
from tests.conftest import Api

# Calibrations that put every raw score at one end of 0–1000: a raw score far below the
# first knot is 0, far above the last is 1000 (the shipped booster's raw scores are
# log-odds of a few units).
ALWAYS_ZERO = {"raw_knots": [1e8, 1e8 + 1], "score_knots": [0.0, 1000.0]}
ALWAYS_TOP = {"raw_knots": [-1e8, -1e8 + 1], "score_knots": [0.0, 1000.0]}


def _model_copy(directory: Path, version: str, calibration: dict[str, list[float]]) -> Path:
    shutil.copytree(SHIPPED_MODEL_DIR, directory)
    metadata = json.loads((directory / METADATA_FILE).read_text("utf-8"))
    metadata.update(version=version, calibration=calibration)
    (directory / METADATA_FILE).write_text(json.dumps(metadata), "utf-8")
    return directory


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    # The deciding model lets everything through; the shadow would block everything,
    # with the default rules acting from the first day.
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        run_worker_in_process=False,
        create_demo_merchant=False,
        risk_warmup_days=0,
        risk_model_dir=_model_copy(tmp_path / "deciding", "deciding-v1", ALWAYS_ZERO),
        risk_shadow_model_dir=_model_copy(tmp_path / "shadow", "shadow-v2", ALWAYS_TOP),
    )


async def test_the_shadow_model_is_scored_and_stored_but_never_decides(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    method = await card(api)
    data = {"amount": "2000", "currency": "usd", "payment_method": method["id"], "confirm": "true"}
    caplog.set_level(logging.INFO, logger="smartpay.risk")
    # The second payment is the one the default rules judge: the merchant has a first day.
    first = await api.post("/v1/payment_intents", data)
    second = await api.post("/v1/payment_intents", data)
    for response in (first, second):
        assert response.status_code == 200, response.text
        intent = response.json()
        assert intent["status"] == "succeeded"
        risk = intent["risk"]
        assert (risk["score"], risk["decision"], risk["model_version"]) == (
            0,
            "allow",
            "deciding-v1",
        )
        assert risk["shadow"]["model_version"] == "shadow-v2"
        assert risk["shadow"]["score"] == 1000
    assert second.json()["risk"]["shadow"]["decision"] == "block"

    stored = (await api.get(f"/v1/payment_intents/{second.json()['id']}")).json()
    assert stored["risk"]["shadow"] == {
        "model_version": "shadow-v2",
        "score": 1000,
        "decision": "block",
    }
    charge = (await api.get(f"/v1/charges/{stored['latest_charge']}")).json()
    assert charge["status"] == "succeeded"
    assert (charge["outcome"]["risk_score"], charge["outcome"]["risk_level"]) == (0, "normal")
    logged = [r.getMessage() for r in caplog.records if r.name == "smartpay.risk"]
    assert logged.count("risk shadow model shadow-v2 scored 1000") == 2
