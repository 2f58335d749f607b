"""``smartpay ach cycle`` and ``smartpay ach ingest`` (Typer's runner, against the test
database and data directory), and the worker's ACH round running a cycle when a cut-off
passes."""

from __future__ import annotations

import asyncio
import datetime
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from smartpay.ach import sandbox_bank
from smartpay.ach import tasks as ach_tasks
from smartpay.ach.cli import ach_app
from smartpay.ach.nacha import check_ach
from smartpay.config import Settings
from smartpay.kit.clock import now
from tests.ach.test_ach_flow import TUESDAY_9AM, bank_method, debit
from tests.ach.test_calendar import NEW_YORK, at
from tests.conftest import Api

MINUTE = 60


async def run_cli(settings: Settings, *args: str) -> tuple[int, str]:
    """The command in a thread of its own: it runs its own event loop (asyncio.run), with
    the test's database and data directory (vault keyring included) from the env."""
    env = {
        "SMARTPAY_DATA_DIR": str(settings.data_dir),
        "SMARTPAY_DATABASE_URL": settings.database_url,
    }
    result = await asyncio.to_thread(CliRunner().invoke, ach_app, list(args), env=env)
    return result.exit_code, result.output


async def test_cycle_then_ingest_from_the_command_line(api: Api, settings: Settings) -> None:
    good = await debit(api, await bank_method(api), 5000)
    closed = await debit(api, await bank_method(api, "000111111113"), 2000)

    code, out = await run_cli(settings, "cycle")
    assert code == 0, out
    assert "1 batches, 2 entries; fees 0.25 (per entry 0.50, Stripe 0.56, saved 0.31)" in out
    written = [line.removeprefix("wrote ").strip() for line in out.splitlines() if "wrote" in line]
    assert len(written) == 1
    outbox_file = settings.ach_dir / "outbox" / written[0]
    assert check_ach(outbox_file.read_bytes()).errors == []
    for row in (good, closed):
        assert (await api.get(f"/v1/ach_debits/{row['id']}")).json()["status"] == "submitted"
    code, out = await run_cli(settings, "cycle")
    assert code == 0 and "0 batches, 0 entries" in out  # nothing left to batch

    # The sandbox bank answers the file; the operator applies its returns by hand.
    later = now() + settings.ach_sandbox_return_delay_seconds + MINUTE
    sandbox_bank.take(settings, now=now())
    [returns_name] = sandbox_bank.respond(settings, now=later)
    returns_file = settings.ach_dir / "inbox" / returns_name
    code, out = await run_cli(settings, "ingest", str(returns_file))
    assert code == 0, out
    assert f"{returns_name}: 1 returns, 0 NOCs, 0 unmatched" in out
    returned = (await api.get(f"/v1/ach_debits/{closed['id']}")).json()
    assert returned["status"] == "returned" and returned["failure_code"] == "R02"
    assert (await api.get(f"/v1/ach_debits/{good['id']}")).json()["status"] == "submitted"
    code, out = await run_cli(settings, "ingest", str(returns_file))
    assert code == 0 and "(already ingested)" in out


async def test_ingest_refuses_invalid_and_unreadable_files(
    api: Api, settings: Settings, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.ach"
    broken.write_text("101 not a nacha file\n")
    code, out = await run_cli(settings, "ingest", str(broken))
    assert code == 1, out
    assert "broken.ach: 0 returns" in out and "  - " in out  # the validator's problems
    code, out = await run_cli(settings, "ingest", str(tmp_path / "missing.ach"))
    assert code == 2 and "cannot read" in out


def _local(unix: int) -> str:
    return datetime.datetime.fromtimestamp(unix, NEW_YORK).strftime("%a %H:%M")


async def _round(api: Api, at_time: int) -> dict[str, Any]:
    platform = api.app.state.platform  # type: ignore[attr-defined]
    return await ach_tasks.run_round(platform, now=at_time)


async def test_the_worker_runs_a_cycle_when_a_cutoff_passes(api: Api) -> None:
    method = await bank_method(api)
    # The first round only starts the clock; nothing is batched before a cut-off passes.
    assert (await _round(api, TUESDAY_9AM))["ach_files_written"] == 0
    row = await debit(api, method, speed="same_day")
    assert (await _round(api, TUESDAY_9AM + 89 * MINUTE))["ach_files_written"] == 0  # 10:29
    assert (await api.get(f"/v1/ach_debits/{row['id']}")).json()["status"] == "initiated"
    summary = await _round(api, TUESDAY_9AM + 91 * MINUTE)  # 10:31: the 10:30 cut-off passed
    assert summary["ach_files_written"] == 1
    filed = (await api.get(f"/v1/ach_debits/{row['id']}")).json()
    assert filed["status"] == "submitted"
    assert filed["effective_date"] == "2026-12-01"  # same day: batched as of 10:30
    assert (await _round(api, TUESDAY_9AM + 92 * MINUTE))["ach_files_written"] == 0


async def test_the_worker_runs_no_cycle_on_a_holiday(api: Api) -> None:
    method = await bank_method(api)
    wednesday_evening = at(datetime.date(2026, 11, 25), 19)
    await _round(api, wednesday_evening)  # starts the clock after Wednesday's cut-offs
    row = await debit(api, method)
    thanksgiving_night = at(datetime.date(2026, 11, 26), 23)
    assert (await _round(api, thanksgiving_night))["ach_files_written"] == 0
    assert (await api.get(f"/v1/ach_debits/{row['id']}")).json()["status"] == "initiated"
    friday = at(datetime.date(2026, 11, 27), 10, 31)
    assert _local(friday) == "Fri 10:31"
    assert (await _round(api, friday))["ach_files_written"] == 1
    filed = (await api.get(f"/v1/ach_debits/{row['id']}")).json()
    assert filed["status"] == "submitted" and filed["effective_date"] == "2026-11-30"
