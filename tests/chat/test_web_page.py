"""The /pay page in a real headless Chromium (Playwright for Python, the system
chromium): a complete payment, a decline followed by a retry with another card, a
session opened after its TTL, and the demo page saving a card with a publishable key.
Screenshots are saved as artifacts under the test's tmp_path."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from smartpay.chat import store as chat_store
from smartpay.kit.db import Database
from smartpay.merchants.service import MerchantKeys, create_merchant
from tests.browser import MOBILE, chromium, server

__all__ = ["server"]  # the fixture, imported for this module's tests


async def _merchant(database: Database) -> MerchantKeys:
    async with database.transaction() as session:
        return await create_merchant(session, "Web shop")


async def _open(base: str, keys: MerchantKeys) -> str:
    return str((await _open_session(base, keys))["url"])


async def _open_session(base: str, keys: MerchantKeys) -> dict[str, object]:
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{base}/v1/chat_sessions",
            json={"amount": 2500, "currency": "usd", "description": "Blue mug"},
            headers={"Authorization": f"Bearer {keys.secret_key}"},
        )
    assert response.status_code == 200, response.text
    opened: dict[str, object] = response.json()
    return opened


async def _type(page: object, text: str) -> None:
    count = await page.locator(".msg--bot").count()  # type: ignore[attr-defined]
    await page.get_by_label("Your message").fill(text)  # type: ignore[attr-defined]
    await page.get_by_role("button", name="Send").click()  # type: ignore[attr-defined]
    await page.locator(".msg--bot").nth(count).wait_for()  # type: ignore[attr-defined]


async def test_pay_page_payment_and_decline_then_retry(
    server: str, database: Database, tmp_path: Path
) -> None:
    keys = await _merchant(database)
    artifacts = tmp_path / "screenshots"
    artifacts.mkdir()
    async with chromium() as browser:
        page = await browser.new_page(viewport=MOBILE)
        await page.goto(await _open(server, keys))
        await page.locator(".msg--bot").first.wait_for()
        assert "25.00 USD" in await page.locator(".msg--bot").first.inner_text()
        await _type(page, "Seán O'Brien")
        await _type(page, "4242 4242 4242 4242")
        mine = await page.locator(".msg--me").all_inner_texts()
        assert mine[-1] == "•••• 4242"
        await _type(page, "12/29")
        await _type(page, "737")
        assert (await page.locator(".msg--me").all_inner_texts())[-1] == "•••"
        summary = await page.locator(".msg--bot").last.inner_text()
        assert "Visa •••• 4242, 12/29" in summary
        await page.screenshot(path=str(artifacts / "confirm.png"))
        await _type(page, "yes")
        assert "succeeded" in await page.locator(".msg--bot").last.inner_text()
        assert await page.locator("main").get_attribute("data-status") == "completed"
        assert await page.get_by_label("Your message").is_disabled()
        await page.screenshot(path=str(artifacts / "paid.png"))
        html = await page.content()
        assert "4242424242424242" not in html and "4242 4242 4242 4242" not in html

        page = await browser.new_page(viewport=MOBILE)
        await page.goto(await _open(server, keys))
        await page.locator(".msg--bot").first.wait_for()
        await _type(page, "Jon Snow, 4000 0000 0000 9995, 11/28, 318")
        await _type(page, "yes")
        declined = await page.locator(".msg--bot").last.inner_text()
        assert "insufficient funds" in declined and "another card" in declined
        await page.screenshot(path=str(artifacts / "declined.png"))
        await _type(page, "5555 5555 5555 4444")
        await _type(page, "12/28")
        await _type(page, "592")
        await _type(page, "yes")
        assert "succeeded" in await page.locator(".msg--bot").last.inner_text()
        await page.screenshot(path=str(artifacts / "retried.png"))
    shots = sorted(p.name for p in artifacts.iterdir())
    assert shots == ["confirm.png", "declined.png", "paid.png", "retried.png"]
    assert all((artifacts / s).stat().st_size > 1000 for s in shots)
    await asyncio.sleep(0)


async def test_pay_page_after_the_ttl_says_the_session_expired(
    server: str, database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = await _merchant(database)
    session = await _open_session(server, keys)
    expires_at = int(str(session["expires_at"]))
    # The server runs in this process (a uvicorn thread): its store sees the same clock.
    monkeypatch.setattr(chat_store, "now", lambda: expires_at + 1)
    async with chromium() as browser:
        page = await browser.new_page(viewport=MOBILE)
        await page.goto(str(session["url"]))
        await page.locator(".msg--bot").first.wait_for()
        notice = await page.locator(".msg--bot").first.inner_text()
        assert "expired" in notice and "start a new session" in notice
        assert await page.locator("main").get_attribute("data-status") == "error"
        assert await page.get_by_label("Your message").is_disabled()
        await page.screenshot(path=str(tmp_path / "expired.png"))
    assert (tmp_path / "expired.png").stat().st_size > 1000


async def test_demo_page_starts_a_session_with_a_publishable_key(
    server: str, database: Database, tmp_path: Path
) -> None:
    keys = await _merchant(database)
    async with chromium() as browser:
        page = await browser.new_page(viewport=MOBILE)
        await page.goto(f"{server}/chat/demo")
        await page.get_by_label("Publishable key").fill(keys.publishable_key)
        await page.get_by_role("button", name="Start").click()
        await page.locator(".msg--bot").first.wait_for()
        assert "save the card" in await page.locator(".msg--bot").first.inner_text()
        await _type(page, "Ana Lima, 5555 5555 5555 4444, 10/29, 864")
        assert (await page.locator(".msg--me").all_inner_texts())[-1] == (
            "Ana Lima, •••• 4444, 10/29, •••"
        )
        assert "Mastercard •••• 4444, 10/29" in await page.locator(".msg--bot").last.inner_text()
        await _type(page, "yes")
        assert "is saved" in await page.locator(".msg--bot").last.inner_text()
        assert await page.locator("main").get_attribute("data-status") == "completed"
        await page.screenshot(path=str(tmp_path / "demo-saved.png"))
    assert (tmp_path / "demo-saved.png").stat().st_size > 1000
