"""``smartpay routing …``: the routing simulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from smartpay.config import Settings
from smartpay.routing.breaker import BreakerPolicy
from smartpay.routing.service import breaker_policy_from, weights_from
from smartpay.routing.simulate import DEFAULT_PAYMENTS, simulate, write_chart

routing_app = typer.Typer(help="Smart routing across processors.", no_args_is_help=True)


@routing_app.callback()
def routing() -> None:
    """Smart routing across processors (a group, so `smartpay routing simulate` works
    however many commands it has)."""


@routing_app.command("simulate")
def simulate_command(
    payments: Annotated[int, typer.Option(help="Payments to simulate.")] = DEFAULT_PAYMENTS,
    seed: Annotated[int, typer.Option(help="Seed of the simulated world.")] = 7,
    chart: Annotated[Path, typer.Option(help="Where to write the SVG chart.")] = Path(
        "routing-simulation.svg"
    ),
    half_life: Annotated[
        float | None,
        typer.Option(
            help="Evidence half-life, seconds (default SMARTPAY_ROUTING_HALF_LIFE_SECONDS)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
) -> None:
    """Compare routing policies on a seeded simulated world (see routing.simulate)."""
    import dataclasses

    settings = Settings()
    weights = weights_from(settings)
    if half_life is not None:
        weights = dataclasses.replace(weights, half_life_seconds=half_life)
    policy: BreakerPolicy = breaker_policy_from(settings)
    console = Console(stderr=True)
    policies = 6
    with Progress(console=console, transient=as_json) as progress:
        task = progress.add_task("simulating", total=payments * policies)
        result = simulate(
            payments,
            seed,
            weights=weights,
            breaker_policy=policy,
            max_attempts=settings.routing_max_attempts,
            tick=lambda: progress.advance(task, 1000),
        )
        progress.update(task, completed=payments * policies)
    write_chart(result, chart)
    summary = result.summary()
    if as_json:
        typer.echo(
            json.dumps(
                {
                    name: {
                        "approval_rate": row["approval_rate"],
                        "fees": row["fees"],
                        "regret_vs_oracle": row["regret_vs_oracle"],
                    }
                    for name, row in summary.items()
                }
            )
        )
        return
    table = Table(title=f"{payments:,} payments, seed {seed}")
    for column in ("policy", "approval rate", "fees", "regret vs oracle (pp)", "attempts"):
        table.add_column(column, justify="right" if column != "policy" else "left")
    for name, row in summary.items():
        table.add_row(
            name,
            f"{row['approval_rate']:.2%}",
            f"{row['fees'] / 100:,.2f}",
            f"{row['regret_vs_oracle']:.2f}",
            f"{row['attempts']:,}",
        )
    Console().print(table)
    Console().print(f"chart: {chart}")
