"""`smartpay risk simulate / train / backtest`, run in-process with Typer's runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from smartpay.risk.cli import risk_app
from smartpay.risk.model import BOOSTER_FILE, METADATA_FILE, RiskModel
from smartpay.risk.transactions import read_transactions

# Long enough to train (warm-up, training, delay, early stopping, calibration), small
# enough to replay in a second or two.
SMALL_ARGS = ["--customers", "200", "--terminals", "400", "--days", "80", "--seed", "11"]


def run(*args: str) -> tuple[int, str]:
    """Exit code and standard output (progress bars and errors go to standard error)."""
    result = CliRunner().invoke(risk_app, list(args))
    return result.exit_code, result.stdout


def run_failing(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(risk_app, list(args))
    return result.exit_code, result.stderr


@pytest.fixture(scope="module")
def transactions_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("risk") / "transactions.csv"
    code, output = run("simulate", "--out", str(path), *SMALL_ARGS)
    assert code == 0, output
    assert "Wrote" in output
    return path


def test_simulate_writes_the_schema(transactions_csv: Path) -> None:
    header = transactions_csv.read_text().splitlines()[0]
    assert header == (
        "transaction_id,timestamp,customer_id,terminal_id,amount,is_fraud,fraud_scenario"
    )
    table = read_transactions(transactions_csv)
    assert len(table) > 20_000 and 0 < table.is_fraud.mean() < 0.2


def test_backtest_json_has_the_overall_figures(transactions_csv: Path) -> None:
    code, output = run(
        "backtest",
        "--transactions",
        str(transactions_csv),
        "--start",
        "2018-05-20",
        "--rounds",
        "100",
        "--json",
    )
    assert code == 0, output
    figures = json.loads(output)
    assert set(figures) == {
        "auc_roc",
        "average_precision",
        "card_precision_at_100",
        "n_test",
        "n_fraud",
    }
    assert figures["n_test"] > 500 and 0 < figures["n_fraud"] < figures["n_test"]
    assert 0.5 < figures["auc_roc"] <= 1  # shape and sense; quality is test_model's job
    assert 0 < figures["average_precision"] <= 1
    assert 0 < figures["card_precision_at_100"] <= 1


def test_backtest_table_lists_each_test_day(transactions_csv: Path) -> None:
    code, output = run(
        "backtest",
        "--transactions",
        str(transactions_csv),
        "--start",
        "2018-05-20",
        "--test-days",
        "3",
        "--rounds",
        "50",
    )
    assert code == 0, output
    for day in ("2018-06-03", "2018-06-04", "2018-06-05", "overall"):
        assert day in output


def test_backtest_outside_the_data_is_a_clear_error(transactions_csv: Path) -> None:
    code, output = run_failing("backtest", "--transactions", str(transactions_csv), "--json")
    assert code == 1
    assert "the backtest needs 2018-07-25 to 2018-08-14 (see --start)" in output


def test_train_saves_a_model_the_backtest_can_use(transactions_csv: Path, tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    code, output = run(
        "train",
        "--transactions",
        str(transactions_csv),
        "--out",
        str(model_dir),
        "--max-rounds",
        "60",
    )
    assert code == 0, output
    assert (model_dir / BOOSTER_FILE).is_file() and (model_dir / METADATA_FILE).is_file()
    model = RiskModel.load(model_dir)
    assert model.metadata.training_report["train_frauds"] > 0
    code, output = run(
        "backtest",
        "--transactions",
        str(transactions_csv),
        "--start",
        "2018-05-20",
        "--model",
        str(model_dir),
        "--json",
    )
    assert code == 0, output
    assert json.loads(output)["auc_roc"] > 0.5  # a 60-tree model of 200 customers


def test_bad_files_are_reported_without_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("transaction_id,timestamp\n1,2018-04-01T00:00:00Z\n")
    code, output = run_failing("train", "--transactions", str(bad))
    assert code == 1
    assert "missing column(s) customer_id, terminal_id, amount, is_fraud" in output
    code, output = run_failing("backtest", "--transactions", str(tmp_path / "absent.csv"))
    assert code == 1
    assert "cannot open" in output
