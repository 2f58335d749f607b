"""kill -9 in the middle of a load run, restart: reconcile and ledger verify are clean."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
import pytest

from tests.card_scan import card_data_in_text
from tests.e2e.conftest import create_merchant_with_cli
from tests.e2e.server import running_server, smartpay

pytestmark = pytest.mark.slow

PAYMENTS = 400
CONCURRENCY = 16
KILL_AFTER = 120  # responses received before the crash
RECOVERY_TIMEOUT_SECONDS = 90


def test_kill_minus_nine_mid_load_then_recover(tmp_path: Path, live_env: dict[str, str]) -> None:
    env = {
        **live_env,
        # Latency keeps calls in flight when the kill lands; a short processor timeout
        # lets the janitor treat orphaned attempts as resolvable quickly.
        "SMARTPAY_SANDBOX_PROFILES": json.dumps({"sandbox": {"latency_ms": 15}}),
        "SMARTPAY_PROCESSOR_TIMEOUT_SECONDS": "1",
        "SMARTPAY_JANITOR_INTERVAL_SECONDS": "0.5",
    }
    secret, _ = create_merchant_with_cli(env, "Crash merchant")
    with running_server(env, tmp_path / "server-1.log") as server:
        completed = asyncio.run(_load_until_killed(server.base_url, secret, server.kill_hard))
    assert completed >= KILL_AFTER

    with running_server(env, tmp_path / "server-2.log") as restarted:
        deadline = time.monotonic() + RECOVERY_TIMEOUT_SECONDS
        while True:
            reconcile = smartpay(env, "reconcile")
            if reconcile.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert reconcile.returncode == 0, reconcile.stdout + reconcile.stderr
        assert "No mismatches" in reconcile.stdout
        verify = smartpay(env, "ledger", "verify")
        assert verify.returncode == 0, verify.stdout + verify.stderr
        # Nothing is left in limbo: every intent reached a state a merchant can act on.
        statuses = asyncio.run(_intent_statuses(restarted.base_url, secret))
        assert "processing" not in statuses, statuses
        for log in (tmp_path / "server-1.log", tmp_path / "server-2.log"):
            assert card_data_in_text(log.read_text(errors="replace")) == []


async def _load_until_killed(base_url: str, secret: str, kill: object) -> int:
    headers = {"Authorization": f"Bearer {secret}"}
    done = 0
    killed = asyncio.Event()
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30) as client:
        method = await client.post(
            "/v1/payment_methods",
            data={
                "type": "card",
                "card[number]": "4242424242424242",
                "card[exp_month]": "12",
                "card[exp_year]": "2031",
            },
        )
        method_id = method.json()["id"]
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(PAYMENTS):
            queue.put_nowait(i)

        async def worker() -> None:
            nonlocal done
            while not killed.is_set():
                try:
                    i = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                try:
                    await client.post(
                        "/v1/payment_intents",
                        data={
                            "amount": str(1000 + i),
                            "currency": "usd",
                            "payment_method": method_id,
                            "confirm": "true",
                        },
                        headers={"Idempotency-Key": f"load-{i}"},
                    )
                except httpx.HTTPError:
                    return
                done += 1
                if done == KILL_AFTER and not killed.is_set():
                    killed.set()
                    await asyncio.to_thread(kill)  # type: ignore[arg-type]

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return done


async def _intent_statuses(base_url: str, secret: str) -> set[str]:
    headers = {"Authorization": f"Bearer {secret}"}
    statuses: set[str] = set()
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30) as client:
        params: dict[str, str] = {"limit": "100"}
        while True:
            page = (await client.get("/v1/payment_intents", params=params)).json()
            statuses.update(pi["status"] for pi in page["data"])
            if not page["has_more"]:
                return statuses
            params["starting_after"] = page["data"][-1]["id"]
