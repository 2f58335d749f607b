"""The dashboard in a real headless Chromium: log in, see the charts drawn with data,
open a payment. Screenshots are saved under the test's tmp_path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
        assert await charts.count() == 4
        # Drawn with data: a line with points for the volume, bars for the approval rate,
        # paid and Stripe's price side by side, and the risk scores' bins.
        assert await page.locator("svg.chart polyline").count() == 1
        assert await page.locator("svg.chart circle").count() >= 1
        approval = page.locator("section", has_text="Approval rate per processor")
        assert await approval.locator("rect[rx]").count() == 1  # one processor
        savings = page.locator("section", has_text="Savings against Stripe")
        assert await savings.locator("rect[rx]").count() == 2  # one currency: paid, Stripe
        risk = page.locator("section", has_text="Risk-score distribution")
        assert await risk.locator("rect[rx]").count() >= 1
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


async def _held_for_review(base: str, secret_key: str) -> str:
    """A merchant rule holding every payment for review, then one payment; its id."""
    auth = {"Authorization": f"Bearer {secret_key}"}
    async with httpx.AsyncClient(base_url=base, headers=auth) as client:
        rule = await client.post(
            "/v1/risk/rules",
            data={
                "action": "review",
                "conditions[0][fact]": "score",
                "conditions[0][operator]": "gte",
                "conditions[0][value]": "0",
            },
        )
        assert rule.status_code == 200, rule.text
        method = await client.post(
            "/v1/payment_methods",
            data={
                "type": "card",
                "card[number]": "4242424242424242",
                "card[exp_month]": "12",
                "card[exp_year]": "2031",
            },
        )
        intent = await client.post(
            "/v1/payment_intents",
            data={
                "amount": "2750",
                "currency": "usd",
                "payment_method": method.json()["id"],
                "confirm": "true",
            },
        )
        assert intent.json()["status"] == "requires_capture", intent.text
        intent_id: str = intent.json()["id"]
        return intent_id


async def test_approve_a_review_and_watch_the_live_feed(
    server: str, database: Database, tmp_path: Path
) -> None:
    async with database.transaction() as session:
        keys = await create_merchant(session, "Review shop")
        await create_user(session, keys.merchant_id, "reviewer@example.com", PASSWORD)
    intent_id = await _held_for_review(server, keys.secret_key)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    async with chromium() as browser:
        # One context: both tabs share the session cookie.
        context = await browser.new_context(viewport=DESKTOP)
        page = await context.new_page()
        scripts_failed: list[str] = []
        page.on("pageerror", lambda error: scripts_failed.append(str(error)))
        await page.goto(f"{server}/dashboard/login")
        await page.get_by_label("Email").fill("reviewer@example.com")
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Log in").click()
        await page.wait_for_url(f"{server}/dashboard")

        # The live feed, in a second tab: connected to the stream and showing the past.
        live = await context.new_page()
        live.on("pageerror", lambda error: scripts_failed.append(str(error)))

        # A script or socket the page's CSP refuses is reported on the console.
        def console(message: Any) -> None:
            if message.type == "error":
                scripts_failed.append(message.text)

        live.on("console", console)
        await live.goto(f"{server}/dashboard/live")
        await live.locator("#feed-state", has_text="live").wait_for(timeout=10_000)
        assert await live.locator("#feed li", has_text="payment_intent.created").count() == 1

        await page.get_by_role("link", name="Reviews").click()
        review = page.locator("section.review", has_text=intent_id)
        assert "27.50 USD" in await review.inner_text()
        assert "Risk score" in await review.inner_text()
        await page.screenshot(path=str(shots / "reviews.png"), full_page=True)
        await review.get_by_role("button", name="Approve").click()
        notice = page.locator(".notice")
        await notice.wait_for()
        assert "approved" in await notice.inner_text()
        assert "succeeded" in await notice.inner_text()
        assert await page.locator("section.review").count() == 0
        await page.screenshot(path=str(shots / "reviewed.png"), full_page=True)

        # The capture the approval made arrives on the live feed without a reload.
        captured = live.locator("#feed li", has_text="payment_intent.succeeded")
        await captured.first.wait_for()
        assert intent_id in await captured.first.inner_text()
        await live.screenshot(path=str(shots / "live.png"), full_page=True)

        await page.get_by_role("link", name="AI decisions").click()
        await page.get_by_role("heading", name="Voters").wait_for()
        assert await page.locator("svg.chart").count() == 1
        assert scripts_failed == []
    for name in ("reviews.png", "reviewed.png", "live.png"):
        assert (shots / name).stat().st_size > 5_000
