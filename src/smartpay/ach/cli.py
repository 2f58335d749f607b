"""``smartpay ach``: validate and inspect NACHA files from the command line.

Exit codes of ``validate``: 0 every file valid, 1 at least one invalid, 2 a file could
not be read (missing, a directory, no permission).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from smartpay.ach.nacha import check_ach
from smartpay.ach.nacha.records import (
    Addenda98,
    Addenda99,
    AdvEntryDetail,
    BatchHeader,
    IatBatchHeader,
    is_credit,
    is_debit,
)

ach_app = typer.Typer(help="NACHA (ACH) files: validate and inspect.", no_args_is_help=True)

EXIT_INVALID = 1
EXIT_UNREADABLE = 2


def _console() -> Console:
    # Built per call so the output goes to the stream of the moment (CliRunner swaps it).
    return Console(highlight=False, soft_wrap=True)


def _read_bytes(path: Path, console: Console) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        reason = error.strerror or type(error).__name__
        console.print(f"[red]error:[/red] cannot read {escape(str(path))}: {escape(reason)}")
        raise typer.Exit(EXIT_UNREADABLE) from None


def _cents(amount: int) -> str:
    return f"{amount // 100:,}.{amount % 100:02d}"


@ach_app.command()
def validate(
    files: Annotated[list[Path], typer.Argument(help="NACHA files to validate.")],
) -> None:
    """Validate each file strictly; print its verdict and every problem found."""
    console = _console()
    contents = [(path, _read_bytes(path, console)) for path in files]
    any_invalid = False
    for path, data in contents:
        errors = check_ach(data).errors
        if not errors:
            console.print(f"[green]VALID[/green]   {escape(str(path))}")
            continue
        any_invalid = True
        console.print(
            f"[red]INVALID[/red] {escape(str(path))}: {len(errors)} problem"
            f"{'s' if len(errors) != 1 else ''}"
        )
        for error in errors:
            console.print(f"  - {escape(str(error))}")
    if any_invalid:
        raise typer.Exit(EXIT_INVALID)


@ach_app.command()
def inspect(file: Annotated[Path, typer.Argument(help="The NACHA file to summarize.")]) -> None:
    """Summarize a file: header, batches with SEC code, counts, totals, returns and NOCs."""
    console = _console()
    result = check_ach(_read_bytes(file, console))
    ach_file = result.file
    header = ach_file.header
    if header is None:
        console.print("[yellow]No file header.[/yellow]")
    else:
        summary = Table(title=f"File header ({escape(str(file))})", show_header=False)
        for name, value in (
            ("Immediate destination", header.immediate_destination.strip()),
            ("Destination name", header.immediate_destination_name),
            ("Immediate origin", header.immediate_origin.strip()),
            ("Origin name", header.immediate_origin_name),
            ("Created", f"{header.file_creation_date} {header.file_creation_time}".strip()),
            ("File ID modifier", header.file_id_modifier),
            ("Reference code", header.reference_code),
        ):
            summary.add_row(name, escape(value))
        console.print(summary)

    batches = Table(title="Batches")
    for column in ("#", "SEC", "Class", "Company", "Entries", "Addenda", "Debits", "Credits"):
        batches.add_column(column, justify="right" if column not in ("SEC", "Company") else "left")
    returns: list[tuple[int, str, str]] = []
    for batch in ach_file.batches:
        debit = sum(entry.amount for entry in batch.entries if is_debit(entry))
        credit = sum(entry.amount for entry in batch.entries if is_credit(entry))
        addenda = sum(len(entry.addenda) for entry in batch.entries)
        batch_header = batch.header
        company = (
            batch_header.company_name
            if isinstance(batch_header, BatchHeader)
            else batch_header.originator_identification
            if isinstance(batch_header, IatBatchHeader)
            else ""
        )
        batches.add_row(
            str(batch_header.batch_number),
            batch.sec_code,
            str(batch_header.service_class_code),
            escape(company),
            str(len(batch.entries)),
            str(addenda),
            _cents(debit),
            _cents(credit),
        )
        for entry in batch.entries:
            trace = "" if isinstance(entry, AdvEntryDetail) else entry.trace_number
            for item in entry.addenda:
                if isinstance(item, Addenda99):
                    returns.append((item.line, f"return {item.return_reason_code}", trace))
                elif isinstance(item, Addenda98):
                    returns.append(
                        (item.line, f"NOC {item.change_code} → {item.corrected_data}", trace)
                    )
    console.print(batches)

    control = ach_file.control
    if control is not None:
        console.print(
            f"File control: {control.batch_count} batches, {control.block_count} blocks, "
            f"{control.entry_addenda_count} entries+addenda, debits {_cents(control.total_debit)}, "
            f"credits {_cents(control.total_credit)}"
        )
    if returns:
        notices = Table(title="Returns and notifications of change")
        for column in ("Line", "What", "Entry trace"):
            notices.add_column(column)
        for line, what, trace in returns:
            notices.add_row(str(line), escape(what), trace)
        console.print(notices)
    verdict = (
        "[green]valid[/green]"
        if not result.errors
        else (f"[red]invalid[/red] ({len(result.errors)} problems; run `validate` for the list)")
    )
    console.print(f"Verdict: {verdict}")


@ach_app.command()
def cycle() -> None:
    """Run one batch cycle now: batch pending transfers, write the NACHA files to the
    outbox, and print what the fee model charged and saved."""
    import asyncio

    from smartpay.ach.batching import CycleReport, run_cycle
    from smartpay.config import Settings
    from smartpay.kit.clock import now
    from smartpay.platform import build_platform

    async def main() -> CycleReport:
        platform = build_platform(Settings())
        try:
            return await run_cycle(platform.database, platform.settings, platform.vault, now=now())
        finally:
            await platform.close()

    report = asyncio.run(main())
    console = _console()
    for name in report.files:
        console.print(f"wrote {escape(name)}")
    console.print(
        f"{report.batches} batches, {report.entries} entries; fees {_cents(report.fees)} "
        f"(per entry {_cents(report.fees_if_per_entry)}, Stripe "
        f"{_cents(report.stripe_equivalent)}, saved {_cents(report.savings_vs_stripe)})"
    )
    for name in report.invalid_files:
        console.print(f"[red]refused by the validator, not written:[/red] {escape(name)}")
    if report.invalid_files:
        raise typer.Exit(EXIT_INVALID)


@ach_app.command()
def ingest(
    files: Annotated[list[Path], typer.Argument(help="Return/NOC files from the ODFI.")],
) -> None:
    """Apply return and notification-of-change files; exit 1 if one is invalid."""
    import asyncio

    from smartpay.ach.returns import IngestReport
    from smartpay.ach.returns import ingest as ingest_file
    from smartpay.config import Settings
    from smartpay.kit.clock import now
    from smartpay.platform import build_platform

    console = _console()
    contents = [(path, _read_bytes(path, console)) for path in files]

    async def main() -> list[IngestReport]:
        from rich.progress import Progress

        platform = build_platform(Settings())
        reports: list[IngestReport] = []
        try:
            with Progress(console=console, transient=True) as progress:
                task = progress.add_task("Ingesting files", total=len(contents))
                for path, data in contents:
                    reports.append(
                        await ingest_file(
                            platform.database,
                            platform.settings,
                            platform.vault,
                            path.name,
                            data,
                            now=now(),
                        )
                    )
                    progress.advance(task)
            return reports
        finally:
            await platform.close()

    reports = asyncio.run(main())
    for report in reports:
        console.print(
            f"{escape(report.name)}: {report.returns} returns, {report.notifications} NOCs, "
            f"{report.unmatched} unmatched{' (already ingested)' if report.duplicate else ''}"
        )
        for error in report.errors:
            console.print(f"  - {escape(error)}")
    if any(report.errors for report in reports):
        raise typer.Exit(EXIT_INVALID)
