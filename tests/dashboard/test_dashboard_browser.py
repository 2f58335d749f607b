"""The dashboard in a real headless Chromium: log in, see the charts drawn with data,
open a payment. Screenshots are saved under the test's tmp_path."""

from __future__ import annotations

from pathlib import Path

import httpx

from smartpay.dashboard.service import create_user
from smartpay.kit.db import Database
from smartpay.merchants.service import create_merchant
from tests.browser import DESKTOP, chromium, server

__all__ = ["server"]  # the fixture, imported for this module's tests

PASSWORD = "correct horse battery"


async def _payments(base: str, secret_key: str) -> None:
    auth = {"Authorization": f"Bearer {secret_key}"}
    async with httpx.AsyncClient(base_url=base, headers=auth) as client:
        for number, amount in (
            ("4242424242424242", 1999),
            ("5555555555554444", 4250),
            ("4000000000009995", 1200),
        ):
            method = await client.post(
                "/v1/payment_methods",
                data={
                    "type": "card",
                    "card[number]": number,
                    "card[exp_month]": "12",
                    "card[exp_year]": "2031",
                },
            )
            await client.post(
                "/v1/payment_intents",
                data={
                    "amount": str(amount),
                    "currency": "usd",
                    "payment_method": method.json()["id"],
                    "confirm": "true",
                },
            )


async def test_log_in_see_charts_open_a_payment(
    server: str, database: Database, tmp_path: Path
) -> None:
    async with database.transaction() as session:
        keys = await create_merchant(session, "Browser shop")
        await create_user(session, keys.merchant_id, "owner@example.com", PASSWORD)
    await _payments(server, keys.secret_key)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    async with chromium() as browser:
        page = await browser.new_page(viewport=DESKTOP)
        await page.goto(f"{server}/dashboard")
        assert page.url.endswith("/dashboard/login")  # sent to log in first
        await page.get_by_label("Email").fill("owner@example.com")
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Log in").click()
        await page.wait_for_url(f"{server}/dashboard")
        charts = page.locator("svg.chart")
        assert await charts.count() == 2
        # Drawn with data: a line with points for the volume, bars for the approval rate.
        assert await page.locator("svg.chart polyline").count() == 1
        assert await page.locator("svg.chart circle").count() >= 1
        assert await page.locator("svg.chart rect[rx]").count() == 1  # one processor
        assert "62.49 USD" in await page.locator(".tiles").inner_text()
        await page.screenshot(path=str(shots / "overview.png"), full_page=True)

        await page.get_by_role("link", name="Payments").click()
        rows = page.locator("tbody tr")
        assert await rows.count() == 3
        await rows.first.get_by_role("link").click()
        await page.get_by_role("heading", name="Charges").wait_for()
        detail = await page.locator("main").inner_text()
        assert "••••" in detail and "sandbox" in detail
        await page.screenshot(path=str(shots / "payment.png"), full_page=True)
        assert "4242424242424242" not in await page.content()
    for name in ("overview.png", "payment.png"):
        assert (shots / name).stat().st_size > 5_000
