"""`smartpay decisions ...`: evaluate the voters and strategies on labelled simulated
payments, and train the anomaly voter's forest.

Wired into the main command as ``app.add_typer(decisions_app, name="decisions")``.
Progress bars go to standard error, so `evaluate --json` prints only the JSON on stdout.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from smartpay.risk.cli import _progress

decisions_app = typer.Typer(help="AI consensus decisions: evaluate, train.", no_args_is_help=True)
console = Console()


@decisions_app.command()
def evaluate(
    seed: Annotated[int, typer.Option(help="Simulator seed (the models were trained on 0).")] = 11,
    days: Annotated[int, typer.Option(min=40, help="Days to simulate.")] = 75,
    evaluated_days: Annotated[int, typer.Option(min=2, help="Last days evaluated.")] = 20,
    customers: Annotated[int, typer.Option(min=10)] = 1_000,
    terminals: Annotated[int, typer.Option(min=10)] = 2_000,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
) -> None:
    """Precision, recall, average precision and cost-weighted loss of every local voter
    alone and of every strategy, on the risk simulator's labelled payments."""
    from smartpay.config import Settings
    from smartpay.decisions.evaluate import evaluate as run
    from smartpay.decisions.service import DecisionService
    from smartpay.risk.simulator import SimulationConfig

    settings = Settings()
    service = DecisionService(settings)
    config = SimulationConfig(
        seed=seed,
        n_customers=customers,
        n_terminals=terminals,
        n_days=days,
        start_date=date(2018, 4, 1),
    )
    params = service.params(service.default_policy(), "usd")
    with _progress("Voting on simulated payments") as on_progress:
        result = run(
            service.local_voters,
            params,
            config=config,
            evaluated_days=evaluated_days,
            on_progress=on_progress,
        )
    if as_json:
        typer.echo(json.dumps(result))
        return
    summary = result.pop("summary")
    view = Table(
        title=f"{summary['payments']:,} payments, {summary['frauds']:,} frauds (seed {seed})"
    )
    for column in ("voter / strategy", "precision", "recall", "avg precision", "loss", "reviews"):
        view.add_column(column, justify="right" if column != "voter / strategy" else "left")
    for name, row in result.items():
        bold = name in (summary["best_voter"], summary["best_strategy"])
        view.add_row(
            name,
            f"{row['precision']:.3f}",
            f"{row['recall']:.3f}",
            f"{row['average_precision']:.3f}",
            f"{row['cost_weighted_loss']:,.2f}",
            f"{row['reviews']:,}",
            style="bold" if bold else None,
        )
    console.print(view)
    console.print(
        f"Best voter {summary['best_voter']}, best strategy {summary['best_strategy']}: "
        f"{'beats' if summary['strategy_beats_best_voter'] else 'does not beat'} it. "
        f"Learnt weights {summary['learnt_weights']}."
    )


@decisions_app.command("train-anomaly")
def train_anomaly(
    transactions: Annotated[
        Path, typer.Option("--transactions", help="Transaction CSV (smartpay risk simulate).")
    ],
    out: Annotated[Path | None, typer.Option(help="File to write (default: shipped).")] = None,
) -> None:
    """Train the anomaly voter's Isolation Forest alone (``smartpay risk train`` trains it
    with the risk model)."""
    from smartpay.decisions.anomaly import SHIPPED_FOREST_PATH, train_anomaly_forest
    from smartpay.risk.transactions import read_transactions

    table = read_transactions(transactions)
    with _progress("Computing features") as on_progress:
        forest = train_anomaly_forest(table, on_progress=on_progress, source=transactions.name)
    path = out or SHIPPED_FOREST_PATH
    forest.save(path)
    console.print(f"Saved the anomaly forest ({forest.metadata['trees']} trees) to {path}")
