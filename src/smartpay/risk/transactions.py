"""Transactions for the risk engine, and the CSV files they travel in.

The CSV schema (simulate writes it; train and backtest read it)::

    transaction_id, timestamp (ISO 8601), customer_id, terminal_id, amount (decimal), is_fraud

Extra columns are ignored. Amounts are decimals in a two-decimal currency (the
simulator's amounts, like the handbook's, are euros) and become integer cents on
the way in, because money is an integer of minor units in SmartPay. Timestamps
without an offset are read as UTC.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np
import numpy.typing as npt

REQUIRED_COLUMNS = (
    "transaction_id",
    "timestamp",
    "customer_id",
    "terminal_id",
    "amount",
    "is_fraud",
)

# The CSV's amounts are in a two-decimal currency: 100 minor units to the major unit.
CENTS_PER_UNIT = 100
_ONE_CENT = Decimal("0.01")


class TransactionFileError(ValueError):
    """A transaction CSV that cannot be read; the message says where and why."""


@dataclass(frozen=True, slots=True)
class Transaction:
    """One card transaction as the risk engine sees it, before its label is known."""

    transaction_id: str
    timestamp: float  # Unix seconds, UTC
    customer_id: str
    terminal_id: str
    amount_cents: int


@dataclass(slots=True)
class TransactionTable:
    """Transactions in columns, sorted by time: what simulate, train and backtest share.

    Columns rather than one object per row keep 1.7 million simulated transactions
    in a few hundred megabytes; `row(i)` builds the `Transaction` the feature code reads.
    """

    transaction_ids: list[str]
    timestamps: npt.NDArray[np.float64]
    customer_ids: list[str]
    terminal_ids: list[str]
    amounts_cents: npt.NDArray[np.int64]
    is_fraud: npt.NDArray[np.int8]

    def __len__(self) -> int:
        return len(self.transaction_ids)

    def row(self, index: int) -> Transaction:
        return Transaction(
            transaction_id=self.transaction_ids[index],
            timestamp=float(self.timestamps[index]),
            customer_id=self.customer_ids[index],
            terminal_id=self.terminal_ids[index],
            amount_cents=int(self.amounts_cents[index]),
        )

    def rows(self) -> Iterator[Transaction]:
        for index in range(len(self)):
            yield self.row(index)

    def take(self, indices: npt.NDArray[np.int64]) -> TransactionTable:
        """The rows at `indices`, in that order."""
        return TransactionTable(
            transaction_ids=[self.transaction_ids[i] for i in indices],
            timestamps=self.timestamps[indices],
            customer_ids=[self.customer_ids[i] for i in indices],
            terminal_ids=[self.terminal_ids[i] for i in indices],
            amounts_cents=self.amounts_cents[indices],
            is_fraud=self.is_fraud[indices],
        )

    def sorted_by_time(self) -> TransactionTable:
        order = np.argsort(self.timestamps, kind="stable")
        if np.all(order[:-1] < order[1:]):
            return self
        return self.take(order.astype(np.int64))


def parse_amount_cents(text: str) -> int:
    """'12.34' → 1234. Rejects negatives, more than two decimals and non-numbers."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"amount {text!r} is not a decimal number") from None
    if not value.is_finite():
        raise ValueError(f"amount {text!r} is not a finite number")
    if value < 0:
        raise ValueError(f"amount {text!r} is negative")
    if value != value.quantize(_ONE_CENT):
        raise ValueError(f"amount {text!r} has more than two decimals")
    return int(value * CENTS_PER_UNIT)


def format_amount(amount_cents: int) -> str:
    """1234 → '12.34' (exact, no float)."""
    return f"{amount_cents // CENTS_PER_UNIT}.{amount_cents % CENTS_PER_UNIT:02d}"


def parse_timestamp(text: str) -> float:
    """ISO 8601 → Unix seconds; a timestamp without an offset is UTC."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"timestamp {text!r} is not ISO 8601") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _parse_label(text: str) -> int:
    label = text.strip()
    if label not in ("0", "1"):
        raise ValueError(f"is_fraud {text!r} must be 0 or 1")
    return int(label)


def read_transactions(path: Path) -> TransactionTable:
    """Read a transaction CSV, sorted by time. Raises `TransactionFileError` with line numbers."""
    transaction_ids: list[str] = []
    timestamps: list[float] = []
    customer_ids: list[str] = []
    terminal_ids: list[str] = []
    amounts: list[int] = []
    labels: list[int] = []
    # One string object per distinct id: millions of rows share a few thousand ids.
    interned: dict[str, str] = {}
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as error:
        raise TransactionFileError(f"{path}: cannot open ({error.strerror})") from None
    with handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise TransactionFileError(f"{path}: the file is empty; expected a header row")
        columns = [name.strip() for name in header]
        missing = [name for name in REQUIRED_COLUMNS if name not in columns]
        if missing:
            raise TransactionFileError(
                f"{path}: missing column(s) {', '.join(missing)}; "
                f"expected {', '.join(REQUIRED_COLUMNS)}"
            )
        position = {name: columns.index(name) for name in REQUIRED_COLUMNS}
        id_at, time_at = position["transaction_id"], position["timestamp"]
        customer_at, terminal_at = position["customer_id"], position["terminal_id"]
        amount_at, label_at = position["amount"], position["is_fraud"]
        width = len(columns)
        for line_number, record in enumerate(reader, start=2):
            if not record:
                continue
            if len(record) < width:
                raise TransactionFileError(
                    f"{path}, line {line_number}: {len(record)} field(s), expected {width}"
                )
            try:
                timestamps.append(parse_timestamp(record[time_at]))
                amounts.append(parse_amount_cents(record[amount_at]))
                labels.append(_parse_label(record[label_at]))
            except ValueError as error:
                raise TransactionFileError(f"{path}, line {line_number}: {error}") from None
            transaction_ids.append(record[id_at])
            customer = record[customer_at]
            customer_ids.append(interned.setdefault(customer, customer))
            terminal = record[terminal_at]
            terminal_ids.append(interned.setdefault(terminal, terminal))
    table = TransactionTable(
        transaction_ids=transaction_ids,
        timestamps=np.asarray(timestamps, dtype=np.float64),
        customer_ids=customer_ids,
        terminal_ids=terminal_ids,
        amounts_cents=np.asarray(amounts, dtype=np.int64),
        is_fraud=np.asarray(labels, dtype=np.int8),
    )
    return table.sorted_by_time()


def format_timestamps(timestamps: npt.NDArray[np.float64]) -> list[str]:
    """Unix seconds → ISO 8601 UTC strings ('2018-04-01T07:12:33Z'), vectorized."""
    whole_seconds = np.floor(timestamps).astype("datetime64[s]")
    return [str(text) for text in np.datetime_as_string(whole_seconds, unit="s", timezone="UTC")]


def write_transactions(
    path: Path,
    table: TransactionTable,
    extra_columns: dict[str, Sequence[object]] | None = None,
) -> None:
    """Write `table` as a transaction CSV; `extra_columns` are appended (readers ignore them)."""
    extras = extra_columns or {}
    for name, values in extras.items():
        if len(values) != len(table):
            raise ValueError(
                f"extra column {name!r} has {len(values)} values for {len(table)} rows"
            )
    timestamps = format_timestamps(table.timestamps)
    amounts = table.amounts_cents.tolist()
    labels = table.is_fraud.tolist()
    extra_values = list(extras.values())
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([*REQUIRED_COLUMNS, *extras])
        for index in range(len(table)):
            writer.writerow(
                [
                    table.transaction_ids[index],
                    timestamps[index],
                    table.customer_ids[index],
                    table.terminal_ids[index],
                    format_amount(amounts[index]),
                    labels[index],
                    *(values[index] for values in extra_values),
                ]
            )
