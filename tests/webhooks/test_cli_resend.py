"""`smartpay events resend --since/--until` makes the window's deliveries due again."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from smartpay.cli import _parse_time, app
from smartpay.events.models import events
from smartpay.kit.db import Database
from smartpay.webhooks.models import webhook_deliveries
from tests.conftest import Api
from tests.webhooks.helpers import create_endpoint, raise_events

pytestmark = pytest.mark.settings(webhook_allow_loopback=True)


def test_parse_time_accepts_iso_and_unix() -> None:
    assert _parse_time("1700000000") == 1_700_000_000
    assert _parse_time("2023-11-14T22:13:20Z") == 1_700_000_000
    assert _parse_time("2023-11-14T22:13:20") == 1_700_000_000


async def test_resend_window(
    api: Api, database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await create_endpoint(api, "http://127.0.0.1:9/hook")
    old = await raise_events(database, api.keys.merchant_id, 2)
    new = await raise_events(database, api.keys.merchant_id, 3)
    async with database.transaction() as session:
        await session.execute(sa.update(events).where(events.c.id.in_(old)).values(created=1000))
    monkeypatch.setenv("SMARTPAY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SMARTPAY_DATABASE_URL", database.url)
    monkeypatch.setenv("SMARTPAY_WEBHOOK_ALLOW_LOOPBACK", "true")

    def run(*args: str) -> str:
        result = CliRunner().invoke(app, list(args))
        assert result.exit_code == 0, result.output
        return result.output

    output = await asyncio.to_thread(run, "events", "resend", "--since", "2000")
    assert "Re-sent 3 events: 3 deliveries are due now." in output
    async with database.transaction() as session:
        rows = (await session.execute(sa.select(webhook_deliveries.c.event_id))).scalars().all()
    assert sorted(rows) == sorted(new)
    output = await asyncio.to_thread(
        run, "events", "resend", "--since", "1970-01-01T00:00:00Z", "--until", "1500"
    )
    assert "Re-sent 2 events: 2 deliveries are due now." in output
