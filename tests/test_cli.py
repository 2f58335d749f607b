"""The `smartpay` command, run in-process with Typer's runner against the test database."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from smartpay.cli import app
from smartpay.config import Settings
from smartpay.platform import build_platform


@pytest.fixture
def cli_env(tmp_path: Path, database_url: str) -> dict[str, str]:
    return {
        "SMARTPAY_DATA_DIR": str(tmp_path / "data"),
        "SMARTPAY_DATABASE_URL": database_url,
    }


def run(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.output


def test_operator_commands(cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in cli_env.items():
        monkeypatch.setenv(key, value)
    code, out = run(cli_env, "migrate")
    assert code == 0, out
    code, out = run(cli_env, "merchants", "create", "Corner shop")
    assert code == 0, out
    assert re.search(r"sk_test_\w{32}", out) and re.search(r"pk_test_\w{32}", out)
    merchant_id = re.search(r"acct_\w+", out).group(0)  # type: ignore[union-attr]

    token = asyncio.run(_store_card(merchant_id))
    keyring = json.loads((Path(cli_env["SMARTPAY_DATA_DIR"]) / "keyring.json").read_text())
    versions_before = len(keyring["versions"])
    code, out = run(cli_env, "vault", "rotate")
    assert code == 0, out
    assert "1 card records re-wrapped" in out
    keyring = json.loads((Path(cli_env["SMARTPAY_DATA_DIR"]) / "keyring.json").read_text())
    assert len(keyring["versions"]) == versions_before + 1
    assert asyncio.run(_load_card(merchant_id, token)) == "4242"

    code, out = run(cli_env, "ledger", "verify")
    assert code == 0 and "balanced" in out
    code, out = run(cli_env, "reconcile")
    assert code == 0 and "No mismatches" in out


async def _store_card(merchant_id: str) -> str:
    from smartpay.cards.validation import validate_card

    platform = build_platform(Settings())
    try:
        async with platform.database.transaction() as session:
            card = validate_card("4242424242424242", 12, 2031, None)
            return await platform.vault.store_card(session, merchant_id, card, "Jo")
    finally:
        await platform.close()


async def _load_card(merchant_id: str, token: str) -> str:
    platform = build_platform(Settings())
    try:
        async with platform.database.transaction() as session:
            card = await platform.vault.load_card(session, merchant_id, token)
            return card.number[-4:]
    finally:
        await platform.close()
