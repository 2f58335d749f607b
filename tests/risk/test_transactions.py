"""Transaction CSV files: round trip, amounts as cents, clear schema errors."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from smartpay.risk.simulator import simulate
from smartpay.risk.transactions import (
    TransactionFileError,
    format_amount,
    parse_amount_cents,
    read_transactions,
    write_transactions,
)
from tests.risk.conftest import SMALL

HEADER = "transaction_id,timestamp,customer_id,terminal_id,amount,is_fraud\n"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "transactions.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_round_trip_keeps_every_field(tmp_path: Path) -> None:
    table = simulate(replace(SMALL, n_days=3)).table
    path = tmp_path / "out.csv"
    write_transactions(path, table, extra_columns={"note": ["x"] * len(table)})
    again = read_transactions(path)
    assert again.transaction_ids == table.transaction_ids
    assert again.customer_ids == table.customer_ids
    assert again.terminal_ids == table.terminal_ids
    assert np.array_equal(again.amounts_cents, table.amounts_cents)
    assert np.array_equal(again.timestamps, table.timestamps)
    assert np.array_equal(again.is_fraud, table.is_fraud)


def test_rows_are_sorted_by_time_and_extra_columns_ignored(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "channel,"
        + HEADER.strip()
        + "\n"
        + "web,b,2018-04-01T10:00:00+02:00,C1,T1,12.30,1\n"
        + "pos,a,2018-04-01T07:00:00,C2,T2,0.05,0\n",
    )
    table = read_transactions(path)
    assert table.transaction_ids == ["a", "b"]  # 07:00 UTC comes before 08:00 UTC
    assert table.amounts_cents.tolist() == [5, 1230]
    assert table.is_fraud.tolist() == [0, 1]
    assert table.timestamps[1] - table.timestamps[0] == 3600


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        (
            "transaction_id,timestamp,amount\n",
            "missing column(s) customer_id, terminal_id, is_fraud",
        ),
        (HEADER + "t1,yesterday,C1,T1,1.00,0\n", "line 2: timestamp 'yesterday' is not ISO 8601"),
        (HEADER + "t1,2018-04-01T00:00:00Z,C1,T1,ten,0\n", "line 2: amount 'ten' is not a decimal"),
        (HEADER + "t1,2018-04-01T00:00:00Z,C1,T1,1.005,0\n", "more than two decimals"),
        (HEADER + "t1,2018-04-01T00:00:00Z,C1,T1,-1.00,0\n", "negative"),
        (
            HEADER
            + "t1,2018-04-01T00:00:00Z,C1,T1,1.00,0\nt2,2018-04-01T00:00:00Z,C1,T1,1.00,yes\n",
            "line 3: is_fraud 'yes' must be 0 or 1",
        ),
        (HEADER + "t1,2018-04-01T00:00:00Z,C1\n", "line 2: 3 field(s), expected 6"),
    ],
)
def test_schema_errors_say_what_and_where(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(TransactionFileError) as error:
        read_transactions(_write(tmp_path, text))
    assert message in str(error.value)
    assert "transactions.csv" in str(error.value)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TransactionFileError, match="cannot open"):
        read_transactions(tmp_path / "nope.csv")


def test_amounts_are_exact_cents() -> None:
    assert parse_amount_cents("0.1") == 10
    assert parse_amount_cents("12.340") == 1234
    assert parse_amount_cents("1234567.89") == 123456789
    assert format_amount(5) == "0.05"
    assert format_amount(123456789) == "1234567.89"
