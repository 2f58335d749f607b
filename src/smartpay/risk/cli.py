"""`smartpay risk ...`: simulate transactions, train the fraud model, backtest it.

Wired into the main command as ``app.add_typer(risk_app, name="risk")``. Progress bars
go to standard error, so `backtest --json` prints nothing but the JSON on stdout.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from smartpay.risk.features import DEFAULT_LABEL_DELAY_DAYS
from smartpay.risk.training import FIXED_ROUNDS, MAX_ROUNDS

risk_app = typer.Typer(help="Fraud scoring: simulate, train, backtest.", no_args_is_help=True)

console = Console()
progress_console = Console(stderr=True)


@contextmanager
def _progress(description: str, enabled: bool = True) -> Iterator[Callable[[int, int], None]]:
    """A Rich progress bar on stderr; yields the `on_progress(done, total)` callback."""
    if not enabled:
        yield lambda done, total: None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=progress_console,
        transient=False,
    ) as progress:
        task = progress.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield update


def _parse_date(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date (YYYY-MM-DD)", param_hint=option
        ) from None


def _fail(message: str) -> typer.Exit:
    progress_console.print(f"[red]Error:[/red] {message}", soft_wrap=True)
    return typer.Exit(code=1)


TransactionsOption = Annotated[
    Path,
    typer.Option(
        "--transactions",
        help="Transaction CSV: transaction_id, timestamp, customer_id, terminal_id, "
        "amount, is_fraud.",
        dir_okay=False,
    ),
]


@risk_app.command()
def simulate(
    out: Annotated[Path, typer.Option(help="CSV file to write.", dir_okay=False)] = Path(
        "transactions.csv"
    ),
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same file.")] = 0,
    days: Annotated[int, typer.Option(min=1, help="Days to simulate.")] = 183,
    start_date: Annotated[str, typer.Option(help="First day (YYYY-MM-DD).")] = "2018-04-01",
    customers: Annotated[int, typer.Option(min=1, help="Number of customers.")] = 5_000,
    terminals: Annotated[int, typer.Option(min=1, help="Number of terminals.")] = 10_000,
) -> None:
    """Simulate card transactions with the handbook's three fraud scenarios."""
    from smartpay.risk.simulator import SimulationConfig, simulate
    from smartpay.risk.transactions import write_transactions

    config = SimulationConfig(
        seed=seed,
        n_days=days,
        start_date=_parse_date(start_date, "--start-date"),
        n_customers=customers,
        n_terminals=terminals,
    )
    with _progress("Simulating days") as on_progress:
        simulation = simulate(config, on_progress=on_progress)
    with progress_console.status(f"Writing {len(simulation.table):,} transactions…"):
        write_transactions(
            out,
            simulation.table,
            extra_columns={"fraud_scenario": simulation.fraud_scenario.tolist()},
        )
    table = simulation.table
    console.print(
        f"Wrote {len(table):,} transactions ({int(table.is_fraud.sum()):,} fraud, "
        f"{table.is_fraud.mean():.2%}) to {out}"
    )


@risk_app.command()
def train(
    transactions: TransactionsOption,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Model directory to write (default: the shipped model's).", file_okay=False
        ),
    ] = None,
    label_delay_days: Annotated[
        int, typer.Option(min=0, help="Days after which a transaction's label is known.")
    ] = DEFAULT_LABEL_DELAY_DAYS,
    max_rounds: Annotated[
        int, typer.Option(min=1, help="Boosting rounds at most (training stops early).")
    ] = MAX_ROUNDS,
) -> None:
    """Train the fraud model on a transaction CSV and save it with its calibration."""
    from smartpay.risk.model import SHIPPED_MODEL_DIR
    from smartpay.risk.training import TrainingDataError, train_model
    from smartpay.risk.transactions import TransactionFileError, read_transactions

    directory = out or SHIPPED_MODEL_DIR
    try:
        with progress_console.status(f"Reading {transactions}…"):
            table = read_transactions(transactions)
        with _progress("Computing features") as on_progress:
            model = train_model(
                table,
                label_delay_days,
                on_progress=on_progress,
                source=transactions.name,
                max_rounds=max_rounds,
            )
    except (TransactionFileError, TrainingDataError) as error:
        raise _fail(str(error)) from None
    model.save(directory)
    # The decisions' anomaly voter is trained on the same file and ships next to the model.
    from smartpay.decisions.anomaly import FOREST_FILE, train_anomaly_forest

    with _progress("Training the anomaly forest") as on_progress:
        forest = train_anomaly_forest(
            table, label_delay_days, on_progress=on_progress, source=transactions.name
        )
    forest.save(directory / FOREST_FILE)
    report = model.metadata.training_report
    console.print(f"Saved model {model.metadata.version} to {directory}")
    console.print(
        f"Calibration period {report['report_period'][0]} to {report['report_period'][1]}: "
        f"AUC {report['auc_roc']:.3f}, AP {report['average_precision']:.3f}, "
        f"CP@100 {report['card_precision_at_100']:.3f} "
        f"({report['best_iteration']} trees, {report['train_frauds']:,} training frauds)"
    )


@risk_app.command()
def backtest(
    transactions: TransactionsOption,
    start: Annotated[
        str, typer.Option(help="First day of the training period (YYYY-MM-DD).")
    ] = "2018-07-25",
    train_days: Annotated[int, typer.Option(min=1)] = 7,
    delay_days: Annotated[
        int, typer.Option(min=0, help="Gap before the test, and the label delay.")
    ] = DEFAULT_LABEL_DELAY_DAYS,
    test_days: Annotated[int, typer.Option(min=1)] = 7,
    rounds: Annotated[
        int, typer.Option(min=1, help="Boosting rounds of the model fitted on the training days.")
    ] = FIXED_ROUNDS,
    model: Annotated[
        Path | None,
        typer.Option(
            help="Score with this model directory instead of training on the training period.",
            file_okay=False,
        ),
    ] = None,
    include_known_compromised: Annotated[
        bool,
        typer.Option(
            help="Keep customers already known to be compromised in the test set "
            "(the handbook leaves them out)."
        ),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the overall figures as one JSON object.")
    ] = False,
) -> None:
    """Replay a transaction CSV through the live feature code and measure the model."""
    from smartpay.risk.backtest import BacktestConfig, BacktestDataError, run_backtest
    from smartpay.risk.model import ModelFileError, RiskModel
    from smartpay.risk.training import TrainingDataError
    from smartpay.risk.transactions import TransactionFileError, read_transactions

    config = BacktestConfig(
        start=_parse_date(start, "--start"),
        train_days=train_days,
        delay_days=delay_days,
        test_days=test_days,
        exclude_known_compromised=not include_known_compromised,
        rounds=rounds,
    )
    try:
        scoring_model = RiskModel.load(model) if model is not None else None
        with progress_console.status(f"Reading {transactions}…"):
            table = read_transactions(transactions)
        with _progress("Replaying transactions") as on_progress:
            result = run_backtest(table, config, scoring_model, on_progress=on_progress)
    except (TransactionFileError, BacktestDataError, TrainingDataError, ModelFileError) as error:
        raise _fail(str(error)) from None
    if as_json:
        typer.echo(json.dumps(result.summary()))
        return
    heading = f"Backtest from {config.start}: train {train_days} d, delay {delay_days} d, test"
    table_view = Table(title=f"{heading} {test_days} d")
    for column in ("day", "transactions", "frauds", "AUC-ROC", "avg precision", "CP@100"):
        table_view.add_column(column, justify="right")
    for day, metrics in result.days:
        table_view.add_row(
            day.isoformat(),
            f"{metrics.n_transactions:,}",
            f"{metrics.n_fraud:,}",
            f"{metrics.auc_roc:.3f}",
            f"{metrics.average_precision:.3f}",
            f"{metrics.card_precision:.3f}",
        )
    overall = result.overall
    table_view.add_row(
        "overall",
        f"{overall.n_transactions:,}",
        f"{overall.n_fraud:,}",
        f"{overall.auc_roc:.3f}",
        f"{overall.average_precision:.3f}",
        f"{overall.card_precision:.3f}",
        style="bold",
    )
    console.print(table_view)
    scored_by = (
        f"model {model}"
        if model is not None
        else (
            f"a model fitted on {result.train_transactions:,} training transactions "
            f"({result.train_frauds:,} frauds)"
        )
    )
    console.print(f"Scored by {scored_by}.")
