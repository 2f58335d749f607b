"""``smartpay report``: a merchant's report for a period, read from the database, as a
table per section in the terminal, as CSV (``--csv``) or as JSON (``--json``)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from smartpay.config import Settings
from smartpay.kit.db import Database
from smartpay.reports import service
from smartpay.reports.repository import Period
from smartpay.reports.tables import display, report_tables, write_csv

EXIT_USAGE = 2


def _parse_time(value: str) -> int:
    # The CLI's one parser of ISO 8601 / unix times (imported late: smartpay.cli imports
    # this module to register the command).
    from smartpay.cli import _parse_time as parse

    return parse(value)


def _default_merchant(settings: Settings, console: Console) -> str:
    if not settings.demo_keys_path.exists():
        console.print("[red]Name the merchant:[/red] --merchant acct_… (no demo merchant here).")
        raise typer.Exit(EXIT_USAGE)
    merchant_id: str = json.loads(settings.demo_keys_path.read_text())["merchant_id"]
    return merchant_id


async def _compute(
    settings: Settings,
    merchant_id: str,
    period: Period,
    sections: list[str],
    progress: Progress,
) -> dict[str, Any]:
    task = progress.add_task("Computing the report", total=len(sections))
    database = Database(settings.resolved_database_url)
    try:
        async with database.transaction() as session:
            return await service.build(
                session,
                merchant_id,
                period,
                settings,
                sections,
                on_section=lambda _name: progress.advance(task),
            )
    finally:
        await database.dispose()


def report_command(
    since: Annotated[
        str | None, typer.Option(help="Period start, inclusive: ISO 8601 or unix seconds.")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Period end, exclusive: ISO 8601 or unix seconds.")
    ] = None,
    merchant: Annotated[
        str | None, typer.Option(help="The merchant (acct_…). Default: the demo merchant.")
    ] = None,
    section: Annotated[
        list[str] | None,
        typer.Option(help=f"Only these sections (repeatable): {', '.join(service.SECTIONS)}."),
    ] = None,
    csv_path: Annotated[
        Path | None,
        typer.Option(
            "--csv",
            help="Also write CSV: into a directory, one file per table; else one file.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """A merchant's report for a period: volume, approvals, declines, refunds, costs
    against Stripe's price, routing, latency, fraud and AI decisions."""
    settings = Settings()
    # With --json, stdout carries only the JSON: messages and progress go to stderr.
    console = Console(stderr=as_json, highlight=False)
    sections = section or list(service.SECTIONS)
    unknown = [name for name in sections if name not in service.SECTIONS]
    if unknown:
        console.print(
            f"[red]Unknown section[/red] {escape(', '.join(unknown))}: choose from "
            f"{', '.join(service.SECTIONS)}."
        )
        raise typer.Exit(EXIT_USAGE)
    period = Period(
        start=_parse_time(since) if since is not None else None,
        end=_parse_time(until) if until is not None else None,
    )
    if period.start is not None and period.end is not None and period.start >= period.end:
        console.print("[red]The period must end after it starts[/red] (--until after --since).")
        raise typer.Exit(EXIT_USAGE)
    merchant_id = merchant or _default_merchant(settings, console)
    with Progress(console=console, transient=True) as progress:
        report = asyncio.run(_compute(settings, merchant_id, period, sections, progress))
    tables = report_tables(report)
    if csv_path is not None:
        written = write_csv(tables, csv_path)
        console.print(
            f"[green]Wrote[/green] {len(written)} CSV file(s) to {escape(str(csv_path))}."
        )
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    console.print(f"Report for [bold]{escape(merchant_id)}[/bold], {_period_text(period)}")
    for table in tables:
        rich_table = Table(title=table.name, title_justify="left")
        for column in table.columns:
            rich_table.add_column(column, justify="left" if column == table.columns[0] else "right")
        for row in table.rows:
            rich_table.add_row(*(escape(display(row, column)) for column in table.columns))
        if not table.rows:
            rich_table.caption = "no data in this period"
        console.print(rich_table)


def _period_text(period: Period) -> str:
    from datetime import UTC, datetime

    def when(unix: int | None, open_end: str) -> str:
        if unix is None:
            return open_end
        return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")

    return f"{when(period.start, 'the beginning')} to {when(period.end, 'now')}"
