"""``smartpay report`` against the test database: tables in the terminal, JSON, CSV to a
file or a directory, the period and merchant options, and usage errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from smartpay.cli import app
from smartpay.kit.db import Database
from smartpay.merchants.service import create_merchant
from tests.reports import dataset
from tests.reports.dataset import DAY, START


@pytest.fixture
async def merchants(database: Database) -> tuple[str, str]:
    async with database.transaction() as session:
        mine = (await create_merchant(session, "Report shop")).merchant_id
        other = (await create_merchant(session, "Other shop")).merchant_id
    return mine, other


@pytest.fixture
async def generated(database: Database, merchants: tuple[str, str]) -> dataset.Dataset:
    data = dataset.generate(list(merchants), 120, seed=7)
    await dataset.store(database, data)
    return data


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    return {
        "SMARTPAY_DATA_DIR": str(tmp_path / "data"),
        "SMARTPAY_DATABASE_URL": database_url,
        "SMARTPAY_CREATE_DEMO_MERCHANT": "false",
        "COLUMNS": "200",  # wide enough that Rich does not fold the tables
    }


def run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["report", *args], env=env)
    return result.exit_code, result.stdout, result.stderr


# The tests are synchronous: the command runs its own event loop, as from a shell.
def test_json_report_matches_the_data(
    generated: dataset.Dataset, merchants: tuple[str, str], env: dict[str, str]
) -> None:
    mine, _ = merchants
    data = generated
    since, until = START + 3 * DAY, START + 20 * DAY
    code, out, _ = run(
        env, "--json", "--merchant", mine, "--since", str(since), "--until", "2026-01-21"
    )
    assert code == 0, out
    report = json.loads(out)  # stdout is only the JSON
    assert report["merchant"] == mine
    assert report["period"] == {"start": since, "end": until}
    expected = dataset.expected_charge_groups(data.of(mine, since, until), None)
    assert report["volume"]["by_currency"] == expected


def test_tables_and_csv(
    generated: dataset.Dataset, merchants: tuple[str, str], env: dict[str, str], tmp_path: Path
) -> None:
    mine, _ = merchants
    data = generated
    code, out, _ = run(env, "--merchant", mine)
    assert code == 0, out
    for title in ("volume.by_currency", "approvals", "declines.data", "routing.data"):
        assert title in out
    assert "fraud" in out and "decisions" in out
    usd = sum(c["amount"] for c in data.of(mine).charges if c["currency"] == "usd")
    assert f"{usd // 100:,}.{usd % 100:02d} USD" in out  # money shown with its decimals

    one_file = tmp_path / "report.csv"
    code, out, _ = run(env, "--merchant", mine, "--section", "volume", "--csv", str(one_file))
    assert code == 0, out
    with one_file.open() as handle:
        rows = list(csv.DictReader(handle))
    by_currency = [r for r in rows if r["table"] == "volume.by_currency"]
    assert {r["currency"]: int(r["amount"]) for r in by_currency}["usd"] == usd  # minor units
    assert {r["table"] for r in rows} <= {
        "volume.by_status",
        "volume.by_currency",
        "volume.by_processor",
        "volume.by_card_brand",
    }

    folder = tmp_path / "tables"
    folder.mkdir()
    code, out, _ = run(env, "--merchant", mine, "--csv", str(folder))
    assert code == 0, out
    names = {path.name for path in folder.iterdir()}
    assert {"volume.by_currency.csv", "routing.data.csv", "latency.data.csv"} <= names
    with (folder / "routing.data.csv").open() as handle:
        routing = list(csv.DictReader(handle))
    assert sum(int(r["attempts"]) for r in routing) == len(data.of(mine).attempts)


def test_usage_errors(merchants: tuple[str, str], env: dict[str, str]) -> None:
    mine, _ = merchants
    code, out, _ = run(env, "--merchant", mine, "--section", "weather")
    assert code == 2 and "Unknown section" in out
    code, out, _ = run(env, "--merchant", mine, "--since", "2026-02-01", "--until", "2026-01-01")
    assert code == 2 and "end after it starts" in out
    code, out, _ = run(env)  # no --merchant and no demo merchant
    assert code == 2 and "--merchant" in out
    code, _, err = run(env, "--merchant", mine, "--since", "soon")
    assert code == 2 and "soon" in err
