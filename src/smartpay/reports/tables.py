"""A report as flat tables, for the terminal, CSV files and the dashboard's reports page.

Every section becomes one table of its single figures (when it has any) and one table
per list of rows; nested objects become dotted columns (``card.amount``). Sections added
later (fraud, AI decisions) are flattened the same way with no change here.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smartpay.kit.money import format_amount

# Report keys that are not section bodies.
ENVELOPE_KEYS = frozenset({"object", "merchant", "period", "generated", "livemode"})
# Columns holding money in minor units (the row's ``currency`` says which).
MONEY_SUFFIXES = ("amount", "fees", "actual_cost", "stripe_cost", "savings")
RATE_SUFFIXES = ("rate", "share")


@dataclass(slots=True)
class ReportTable:
    name: str  # "volume.by_currency": section, then the list's key
    columns: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)


def _flatten(value: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, dict):
            flat.update(_flatten(item, f"{name}."))
        elif isinstance(item, list) and all(not isinstance(x, dict) for x in item):
            flat[name] = ", ".join(str(x) for x in item)
        else:
            flat[name] = item
    return flat


def _columns(rows: Iterable[dict[str, Any]]) -> list[str]:
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    return columns


def section_tables(name: str, body: dict[str, Any]) -> list[ReportTable]:
    figures: dict[str, Any] = {}
    lists: list[ReportTable] = []
    for key, value in body.items():
        if isinstance(value, list) and (not value or isinstance(value[0], dict)):
            rows = [_flatten(item) for item in value if isinstance(item, dict)]
            # An empty list still gets its (empty) table: "none in this period" is a figure.
            lists.append(ReportTable(f"{name}.{key}", _columns(rows) or [key], rows))
        elif isinstance(value, dict):
            figures.update(_flatten(value, f"{key}."))
        else:
            figures[key] = ", ".join(map(str, value)) if isinstance(value, list) else value
    tables = []
    if figures:
        tables.append(
            ReportTable(
                name,
                ["figure", "value"],
                [{"figure": key, "value": value} for key, value in figures.items()],
            )
        )
    return tables + lists


def report_tables(report: dict[str, Any]) -> list[ReportTable]:
    tables: list[ReportTable] = []
    for name, body in report.items():
        if name not in ENVELOPE_KEYS and isinstance(body, dict):
            tables += section_tables(name, body)
    return tables


def is_money(column: str) -> bool:
    last = column.rsplit(".", 1)[-1]
    return last.startswith("amount") or last.endswith(MONEY_SUFFIXES)


def display(row: dict[str, Any], column: str) -> str:
    """A cell for people: money with its currency's decimals, rates as percentages."""
    value = row.get(column)
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    currency = row.get("currency")
    if isinstance(value, int) and isinstance(currency, str) and is_money(column):
        return format_amount(value, currency)
    if isinstance(value, float) and column.endswith(RATE_SUFFIXES):
        return f"{value:.2%}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def write_csv(tables: list[ReportTable], target: Path) -> list[Path]:
    """Write ``tables`` as CSV: into a directory, one file per table (``volume.by_currency
    .csv``); else one file whose first column names each row's table. Money stays in
    minor units, as in the API. Returns the files written."""
    if target.is_dir():
        written = []
        for table in tables:
            path = target / f"{table.name}.csv"
            with path.open("w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=table.columns)
                writer.writeheader()
                writer.writerows(table.rows)
            written.append(path)
        return written
    columns = ["table", *_columns(row for table in tables for row in table.rows)]
    with target.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for table in tables:
            writer.writerows({"table": table.name, **row} for row in table.rows)
    return [target]
