"""Benchmark: the NACHA reader, validator and writer on large files.

1. Parse and validate a 500,000-entry PPD file (written by the writer into a temporary
   directory first). Goal: at most 10 s.
2. Build a 100,000-entry file in code (records, controls) and validate it. Goal: at
   most 2 s.

Run: `.venv/bin/python bench/ach.py [--runs N]`. Prints the median of N runs (and
every run); asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from smartpay.ach.nacha import (  # noqa: E402
    AchFile,
    Batch,
    BatchHeader,
    EntryDetail,
    FileHeader,
    check_ach,
    fill_controls,
    validate_ach,
    write_ach,
)
from smartpay.ach.nacha.records import AnyEntry  # noqa: E402

PARSE_GOAL_SECONDS = 10.0  # the goal for 500,000 entries
BUILD_GOAL_SECONDS = 2.0  # the goal for 100,000 entries
ENTRIES_PER_BATCH = 200  # as moov-io/ach's large sample files (2,500 batches of 200)
ODFI = "12104288"
RDFI = "23138010"  # 231380104: check digit 4


def build_file(entries: int) -> AchFile:
    header = FileHeader(
        immediate_destination=" 231380104",
        immediate_origin="0121042882",
        file_creation_date="250102",
        file_creation_time="0930",
        file_id_modifier="A",
        immediate_destination_name="Citadel",
        immediate_origin_name="SmartPay",
    )
    batches: list[Batch] = []
    for batch_number, start in enumerate(range(0, entries, ENTRIES_PER_BATCH), start=1):
        batch_header = BatchHeader(
            service_class_code=200,
            company_name="SmartPay",
            company_identification="1234567890",
            standard_entry_class_code="PPD",
            company_entry_description="PAYROLL",
            effective_entry_date="250103",
            odfi_identification=ODFI,
            batch_number=batch_number,
        )
        batch_entries: list[AnyEntry] = []
        for sequence in range(1, min(ENTRIES_PER_BATCH, entries - start) + 1):
            batch_entries.append(
                EntryDetail(
                    transaction_code=22 if sequence % 2 else 27,
                    rdfi_identification=RDFI,
                    check_digit="4",
                    dfi_account_number=f"{start + sequence:012d}",
                    amount=100 + sequence,
                    identification_number=f"EMP{start + sequence}",
                    individual_name="Receiver Name",
                    trace_number=f"{ODFI}{sequence:07d}",
                )
            )
        batches.append(Batch(batch_header, batch_entries))
    return fill_controls(AchFile(header=header, batches=batches))


def timed(work: Callable[[], object], runs: int) -> list[float]:
    seconds: list[float] = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        seconds.append(time.perf_counter() - started)
    return seconds


def report(label: str, seconds: list[float], goal: float) -> None:
    median = statistics.median(seconds)
    runs = ", ".join(f"{s:.2f}" for s in seconds)
    verdict = "within" if median <= goal else "OVER"
    print(f"{label}: median {median:.2f} s (runs: {runs}) — goal ≤ {goal:.0f} s, {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--parse-entries", type=int, default=500_000)
    parser.add_argument("--build-entries", type=int, default=100_000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "large.ach"
        path.write_text(write_ach(build_file(args.parse_entries)))
        size = path.stat().st_size

        def parse_and_validate() -> None:
            result = check_ach(path.read_bytes())
            assert result.errors == [], result.errors[:3]

        print(f"file: {args.parse_entries:,} entries, {size / 1e6:.1f} MB")
        report(
            f"parse + validate {args.parse_entries:,} entries",
            timed(parse_and_validate, args.runs),
            PARSE_GOAL_SECONDS,
        )

    def build_and_validate() -> None:
        built = build_file(args.build_entries)
        assert validate_ach(built) == []

    report(
        f"build + validate {args.build_entries:,} entries",
        timed(build_and_validate, args.runs),
        BUILD_GOAL_SECONDS,
    )


if __name__ == "__main__":
    main()
