"""The ``smartpay`` command."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from smartpay.ach.cli import ach_app
from smartpay.config import Settings
from smartpay.decisions.cli import decisions_app
from smartpay.kit.logs import configure_logging
from smartpay.reports.cli import report_command
from smartpay.risk.cli import risk_app
from smartpay.routing.cli import routing_app

app = typer.Typer(help="SmartPay: self-hostable, Stripe-compatible payments.", no_args_is_help=True)
merchants_app = typer.Typer(help="Merchants and their API keys.", no_args_is_help=True)
vault_app = typer.Typer(help="The card vault's keys.", no_args_is_help=True)
ledger_app = typer.Typer(help="The double-entry ledger.", no_args_is_help=True)
app.add_typer(merchants_app, name="merchants")
app.add_typer(vault_app, name="vault")
app.add_typer(ledger_app, name="ledger")
users_app = typer.Typer(help="People who log in to the dashboard.", no_args_is_help=True)
app.add_typer(users_app, name="users")
events_app = typer.Typer(help="Events and their webhook deliveries.", no_args_is_help=True)
app.add_typer(events_app, name="events")
app.add_typer(ach_app, name="ach")
app.add_typer(risk_app, name="risk")
app.add_typer(routing_app, name="routing")
app.add_typer(decisions_app, name="decisions")
app.command("report")(report_command)

console = Console()
T = TypeVar("T")


def _settings() -> Settings:
    return Settings()


def _run(work: Callable[[Any], Awaitable[T]]) -> T:
    """Build the platform, run ``work(platform)``, close it."""
    from smartpay.platform import build_platform

    async def main() -> T:
        platform = build_platform(_settings())
        try:
            return await work(platform)
        finally:
            await platform.close()

    return asyncio.run(main())


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema to the latest version."""
    from smartpay.kit.migrations import upgrade
    from smartpay.platform import ensure_data_dir

    settings = _settings()
    ensure_data_dir(settings)
    with console.status("Migrating the database…"):
        upgrade(settings.resolved_database_url)
    console.print(f"[green]Database is up to date[/green] ({_display_url(settings)}).")


def _display_url(settings: Settings) -> str:
    url = settings.resolved_database_url
    if "@" in url:  # hide credentials
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


async def _ensure_demo_merchant(settings: Settings) -> None:
    """First start: create a demo merchant and keep its keys in a 0600 file."""
    from smartpay.merchants.service import create_merchant
    from smartpay.platform import build_platform

    path = settings.demo_keys_path
    if not path.exists():
        platform = build_platform(settings)
        try:
            async with platform.database.transaction() as session:
                keys = await create_merchant(session, "Demo merchant")
        finally:
            await platform.close()
        payload = {
            "merchant_id": keys.merchant_id,
            "secret_key": keys.secret_key,
            "publishable_key": keys.publishable_key,
        }
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(payload, handle, indent=2)
    keys_shown = json.loads(path.read_text())
    console.print(
        f"[bold]Demo merchant[/bold] {keys_shown['merchant_id']}\n"
        f"  secret key:      [cyan]{keys_shown['secret_key']}[/cyan]\n"
        f"  publishable key: [cyan]{keys_shown['publishable_key']}[/cyan]\n"
        f"  (kept in {path}, mode 0600)"
    )


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind.")] = None,
    workers: Annotated[int, typer.Option(help="Server processes.", min=1)] = 1,
    migrate_first: Annotated[
        bool, typer.Option("--migrate/--no-migrate", help="Upgrade the schema before serving.")
    ] = True,
    demo_processors: Annotated[
        bool,
        typer.Option(
            "--demo-processors",
            help="Three sandbox processors with different fees, approval rates and "
            "latencies, one of which goes down for two minutes after two minutes (what "
            "`make run` starts). Ignored when SMARTPAY_PROCESSORS is set.",
        ),
    ] = False,
) -> None:
    """Start the API (and, in the embedded default, the worker)."""
    import uvicorn

    if demo_processors and not os.environ.get("SMARTPAY_PROCESSORS"):
        from smartpay.demo import demo_processor_environment

        # Through the environment, so every server process (uvicorn builds the app from
        # Settings in each) and the in-process worker see the same processors.
        os.environ.update(demo_processor_environment(time.time()))
    settings = _settings()
    if migrate_first:
        migrate()
    if settings.create_demo_merchant:
        asyncio.run(_ensure_demo_merchant(settings))
    if workers > 1 and not settings.redis_url:
        console.print(
            "[yellow]Note:[/yellow] with several workers and no SMARTPAY_REDIS_URL, a CVC "
            "is held only by the process that received it; an authorization served by "
            "another process proceeds without a CVC check. Set SMARTPAY_REDIS_URL to share "
            "them (encrypted, short TTL)."
        )
    if workers > 1:
        from smartpay.ops.metrics import prepare_multiprocess_dir

        prepare_multiprocess_dir(settings.data_dir / "prometheus")
    bind_host = host or settings.host
    bind_port = port or settings.port
    # uvicorn's own records go through SmartPay's logging (JSON, request ids, redaction)
    # instead of the handlers uvicorn would install (log_config=None below).
    configure_logging(settings.log_level, settings.log_format)
    console.print(
        f"SmartPay listening on [bold]http://{bind_host}:{bind_port}[/bold] (docs at /docs)\n"
        f"  dashboard: http://{bind_host}:{bind_port}/dashboard "
        "(make a login with `.venv/bin/smartpay users create you@example.com`)\n"
        "  traffic:   `.venv/bin/smartpay demo` in another terminal fills it"
    )
    uvicorn.run(
        "smartpay.app:create_app",
        factory=True,
        host=bind_host,
        port=bind_port,
        workers=workers,
        log_level=settings.log_level,
        log_config=None,
        access_log=False,
    )


@app.command()
def worker() -> None:
    """Run background jobs: resolve unknown attempts, settle matured funds."""
    from smartpay import worker as worker_module

    settings = _settings()
    configure_logging(settings.log_level, settings.log_format)

    async def work(platform: Any) -> None:
        stop = asyncio.Event()
        console.print("Worker running. Ctrl-C to stop.")
        await worker_module.run_forever(platform, stop)

    try:
        _run(work)
    except KeyboardInterrupt:
        console.print("Worker stopped.")


@app.command()
def demo(
    duration: Annotated[float, typer.Option(help="Seconds of traffic.", min=1)] = 60,
    rate: Annotated[float, typer.Option(help="Payments per second.", min=0.1, max=200)] = 5,
    base_url: Annotated[str | None, typer.Option(help="SmartPay's address.")] = None,
    key: Annotated[
        str | None, typer.Option(help="A secret key (sk_test_…). Default: the demo merchant's.")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Repeat the same traffic.")] = None,
) -> None:
    """Send realistic payments through a running SmartPay so the dashboard fills."""
    import httpx
    from rich.progress import Progress

    from smartpay.demo import run_demo

    settings = _settings()
    secret = key
    if secret is None:
        if not settings.demo_keys_path.exists():
            console.print("[red]No key:[/red] pass --key sk_test_… (no demo merchant here).")
            raise typer.Exit(2)
        secret = json.loads(settings.demo_keys_path.read_text())["secret_key"]
    url = base_url or f"http://{settings.host}:{settings.port}"

    async def main() -> Any:
        auth = {"Authorization": f"Bearer {secret}"}
        async with httpx.AsyncClient(base_url=url, headers=auth, timeout=30) as client:
            try:
                (await client.get("/v1/balance")).raise_for_status()
            except httpx.HTTPError as exc:
                console.print(f"[red]Cannot reach SmartPay at {url}:[/red] {exc}")
                console.print("Start it first (`make run` or `smartpay serve`).")
                raise typer.Exit(2) from None
            with Progress(console=console) as progress:
                task = progress.add_task(f"Demo traffic to {url}", total=1.0)
                return await run_demo(
                    client,
                    duration_seconds=duration,
                    rate_per_second=rate,
                    seed=seed,
                    on_tick=lambda share: progress.update(task, completed=share),
                )

    report = asyncio.run(main())
    table = Table(title=f"{report.payments} payments")
    table.add_column("outcome")
    table.add_column("count", justify="right")
    for outcome, count in report.outcomes.most_common():
        table.add_row(outcome, str(count))
    console.print(table)
    from smartpay.kit.money import format_amount

    console.print(f"Captured volume: {format_amount(report.volume, 'usd')}")
    for error in report.errors[:5]:
        console.print(f"[yellow]{error}[/yellow]")


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Argument(help="The user's email: their login name.")],
    merchant: Annotated[
        str | None,
        typer.Option(help="The merchant (acct_…) whose data they see. Default: the demo merchant."),
    ] = None,
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)
    ] = "",
) -> None:
    """Create a dashboard user (the password is stored only as a scrypt hash)."""
    from smartpay.dashboard.service import create_user
    from smartpay.errors import SmartPayError

    settings = _settings()
    merchant_id = merchant
    if merchant_id is None:
        if not settings.demo_keys_path.exists():
            console.print(
                "[red]Name the merchant:[/red] --merchant acct_… (no demo merchant here)."
            )
            raise typer.Exit(2)
        merchant_id = json.loads(settings.demo_keys_path.read_text())["merchant_id"]

    async def work(platform: Any) -> str:
        async with platform.database.transaction() as session:
            return await create_user(session, merchant_id, email, password)

    try:
        user_id = _run(work)
    except SmartPayError as exc:
        console.print(f"[red]Not created:[/red] {exc.message}")
        raise typer.Exit(1) from None
    console.print(f"Dashboard user [bold]{email}[/bold] ({user_id}) for {merchant_id}.")
    console.print(f"Log in at http://{settings.host}:{settings.port}/dashboard")


@merchants_app.command("create")
def merchants_create(name: Annotated[str, typer.Argument(help="The merchant's name.")]) -> None:
    """Create a merchant and print its keys (shown once: only hashes are stored)."""
    from smartpay.merchants.service import create_merchant

    async def work(platform: Any) -> Any:
        async with platform.database.transaction() as session:
            return await create_merchant(session, name)

    keys = _run(work)
    console.print(f"Merchant [bold]{keys.name}[/bold] ({keys.merchant_id})")
    console.print(f"  secret key:      [cyan]{keys.secret_key}[/cyan]")
    console.print(f"  publishable key: [cyan]{keys.publishable_key}[/cyan]")
    console.print("Store these now: SmartPay keeps only their hashes.")


@vault_app.command("rotate")
def vault_rotate() -> None:
    """Add a new key version and re-wrap every card's data key under it."""

    async def work(platform: Any) -> int:
        count: int = await platform.vault.rotate_keys(platform.database)
        return count

    count = _run(work)
    console.print(f"[green]Rotated[/green]: {count} card records re-wrapped under the new key.")


@app.command()
def reconcile(
    as_json: Annotated[bool, typer.Option("--json", help="Print mismatches as JSON.")] = False,
) -> None:
    """Compare SmartPay's attempts with each processor's records; list every mismatch."""
    from smartpay.payments.reconcile import reconcile as run_reconcile

    async def work(platform: Any) -> Any:
        return await run_reconcile(platform.database, platform.connectors)

    mismatches = _run(work)
    if as_json:
        typer.echo(json.dumps([dataclasses.asdict(m) for m in mismatches]))
    elif not mismatches:
        console.print("[green]No mismatches[/green]: SmartPay and the processors agree.")
    else:
        table = Table("processor", "idempotency key", "problem", title="Mismatches")
        for m in mismatches:
            table.add_row(m.processor, m.idempotency_key, m.problem)
        console.print(table)
    raise typer.Exit(code=1 if mismatches else 0)


@ledger_app.command("verify")
def ledger_verify() -> None:
    """Check that debits equal credits in every currency and every balance matches."""
    from smartpay.ledger import service as ledger

    async def work(platform: Any) -> list[str]:
        async with platform.database.transaction() as session:
            problems: list[str] = await ledger.verify(session)
            return problems

    problems = _run(work)
    if problems:
        for problem in problems:
            console.print(f"[red]✗[/red] {problem}")
        raise typer.Exit(code=1)
    console.print("[green]Ledger balanced[/green]: debits equal credits in every currency.")


def _parse_time(value: str) -> int:
    """Unix seconds from a unix timestamp or an ISO 8601 time (UTC unless it says)."""
    from datetime import UTC, datetime

    if value.lstrip("-").isdigit():
        return int(value)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is neither ISO 8601 nor unix seconds") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp())


@events_app.command("resend")
def events_resend(
    since: Annotated[str, typer.Option(help="Events created at or after: ISO 8601 or unix.")],
    until: Annotated[
        str | None, typer.Option(help="Events created at or before: ISO 8601 or unix.")
    ] = None,
    merchant: Annotated[
        str | None, typer.Option(help="Only this merchant's events (acct_…).")
    ] = None,
) -> None:
    """Send events again to their webhook endpoints: every delivery of each event is due
    now, with a fresh retry window (the worker sends them)."""
    from rich.progress import Progress

    from smartpay.webhooks import repository as webhook_repository
    from smartpay.webhooks import service as webhooks

    start = _parse_time(since)
    end = _parse_time(until) if until is not None else None
    # Events re-sent per transaction: short transactions, few round trips.
    batch_size = 500

    async def work(platform: Any) -> tuple[int, int]:
        from smartpay.kit.clock import now as clock_now

        async with platform.database.transaction() as session:
            total = await webhook_repository.count_events_between(
                session, since=start, until=end, merchant_id=merchant
            )
        events_done = deliveries = 0
        after_id = ""
        with Progress(console=console) as progress:
            task = progress.add_task("Re-sending events", total=total)
            while True:
                async with platform.database.transaction() as session:
                    batch = await webhook_repository.events_between(
                        session,
                        since=start,
                        until=end,
                        merchant_id=merchant,
                        after_id=after_id,
                        limit=batch_size,
                    )
                    if not batch:
                        break
                    deliveries += await webhooks.resend(
                        session, batch, clock_now(), platform.settings
                    )
                after_id = batch[-1].id
                events_done += len(batch)
                progress.update(task, advance=len(batch))
        return events_done, deliveries

    events_done, deliveries = _run(work)
    console.print(
        f"[green]Re-sent[/green] {events_done} events: {deliveries} deliveries are due now."
    )


if __name__ == "__main__":
    app()
