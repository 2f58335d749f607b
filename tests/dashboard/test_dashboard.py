"""The dashboard: login with a scrypt-hashed password, the overview's charts drawn from
the merchant's own payments, the payments list and a payment's page, and nothing of
another merchant's."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from smartpay.dashboard import charts
from smartpay.dashboard.service import create_user, hash_password, verify_password
from smartpay.kit.db import Database
from smartpay.kit.money import format_amount
from tests.api.helpers import pay
from tests.card_scan import card_data_in_text
from tests.conftest import Api

PASSWORD = "correct horse battery"


@asynccontextmanager
async def _browser(api: Api, database: Database) -> AsyncIterator[httpx.AsyncClient]:
    """A logged-in browser: an httpx client keeping the session cookie."""
    email = "ops@example.com"
    async with database.transaction() as session:
        await create_user(session, api.keys.merchant_id, email, PASSWORD)
    transport = httpx.ASGITransport(app=api.app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.post(
            "/dashboard/login", data={"email": email, "password": PASSWORD}
        )
        assert response.status_code == 303, response.text
        assert response.headers["location"] == "/dashboard"
        cookie = response.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        yield client


def test_passwords_are_scrypt_hashed_and_verified() -> None:
    stored = hash_password(PASSWORD)
    assert stored.startswith("scrypt$") and PASSWORD not in stored
    assert verify_password(PASSWORD, stored)
    assert not verify_password(PASSWORD + "!", stored)
    assert hash_password(PASSWORD) != stored  # salted


async def test_pages_need_a_login(api: Api) -> None:
    for path in ("/dashboard", "/dashboard/payments", "/dashboard/payments/pi_x"):
        response = await api.client.get(path)
        assert response.status_code == 303 and response.headers["location"] == "/dashboard/login"
    page = await api.client.get("/dashboard/login")
    assert page.status_code == 200 and 'name="password"' in page.text


async def test_wrong_password_is_refused_with_one_message(api: Api, database: Database) -> None:
    async with database.transaction() as session:
        await create_user(session, api.keys.merchant_id, "a@example.com", PASSWORD)
    for email, password in (("a@example.com", "wrong password!"), ("nobody@example.com", PASSWORD)):
        response = await api.client.post(
            "/dashboard/login", data={"email": email, "password": password}
        )
        assert response.status_code == 401
        assert "do not match an account" in response.text
        assert "set-cookie" not in response.headers


async def test_overview_draws_the_merchants_payments(api: Api, database: Database) -> None:
    for _ in range(3):
        await pay(api, amount=2500)
    await pay(api, number="4000000000009995")
    async with _browser(api, database) as browser:
        page = await browser.get("/dashboard")
    assert page.status_code == 200
    assert "default-src 'none'" in page.headers["content-security-policy"]
    # Volume, approval per processor, savings against Stripe's price, risk scores.
    assert page.text.count("<svg") == 4
    assert "75.00 USD" in page.text  # three captured payments of 25.00
    assert "75.0%" in page.text  # three approved out of four decided
    assert re.search(r"<title>sandbox: 75%</title>", page.text)
    costs = (await api.get("/v1/reports/costs")).json()["data"][0]["total"]
    assert f"<title>Paid {format_amount(costs['actual_cost'], 'usd')}</title>" in page.text
    assert f"s price {format_amount(costs['stripe_cost'], 'usd')}</title>" in page.text
    assert "Saved vs Stripe USD" in page.text
    # Every payment was scored by the risk engine: the bins hold all four.
    risk_chart = page.text.split("Payments per risk score", 1)[1].split("</svg>", 1)[0]
    bins = re.findall(r"<title>\d+–\d+: (\d+)</title>", risk_chart)
    assert sum(int(n) for n in bins) == 4
    assert card_data_in_text(page.text) == []


async def test_payments_list_filter_and_detail(api: Api, database: Database) -> None:
    succeeded = (await pay(api)).json()
    declined = (await pay(api, number="4000000000009995")).json()["error"]["payment_intent"]
    foreign = (await pay(api, 900, key=api.other.secret_key)).json()  # another merchant's
    async with _browser(api, database) as browser:
        listing = await browser.get("/dashboard/payments")
        filtered = await browser.get("/dashboard/payments", params={"status": "succeeded"})
        detail = await browser.get(f"/dashboard/payments/{succeeded['id']}")
        other = await browser.get(f"/dashboard/payments/{foreign['id']}")
        logged_out = await browser.post("/dashboard/logout")
        after = await browser.get("/dashboard")
    assert succeeded["id"] in listing.text and declined["id"] in listing.text
    assert foreign["id"] not in listing.text
    assert succeeded["id"] in filtered.text and declined["id"] not in filtered.text
    assert "Visa •••• 4242" in detail.text and "20.00 USD" in detail.text
    assert other.status_code == 404
    assert logged_out.status_code == 303
    assert after.status_code == 303  # the session is gone


async def test_forms_from_another_site_are_refused(api: Api, database: Database) -> None:
    async with database.transaction() as session:
        await create_user(session, api.keys.merchant_id, "b@example.com", PASSWORD)
    response = await api.client.post(
        "/dashboard/login",
        data={"email": "b@example.com", "password": PASSWORD},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403


@pytest.mark.parametrize("label", ["<script>alert(1)</script>", 'x" onload="y'])
def test_chart_text_is_escaped(label: str) -> None:
    svg = str(charts.bar_chart("Approval", [(label, 0.5)]))
    assert "<script>" not in svg and 'onload="y' not in svg
    line = str(charts.line_chart("Volume", [charts.Series(label, [("12-01", 3.0)])]))
    assert "<script>" not in line


def test_charts_say_so_when_there_is_no_data() -> None:
    assert "No data yet" in charts.bar_chart("Approval", [])
    assert "No data yet" in charts.line_chart("Volume", [])
    assert "No data yet" in charts.grouped_bar_chart("Savings", ["Paid"], [])


def test_grouped_bars_are_escaped_and_scaled() -> None:
    svg = str(
        charts.grouped_bar_chart(
            "Savings",
            ["Paid", "<b>Stripe</b>"],
            [("USD", [0.5, 1.0], ["Paid 1.00 USD", "<script>x</script>"])],
        )
    )
    assert "<script>" not in svg and "<b>" not in svg
    bars = r'<rect x="[\d.]+" y="[\d.]+" width="[\d.]+" height="([\d.]+)" rx'  # not legends
    heights = [float(h) for h in re.findall(bars, svg)]
    assert len(heights) == 2 and heights[1] == 2 * heights[0]  # half of Stripe's price


@pytest.mark.parametrize(
    ("value", "value_format", "ticks"),
    [
        (5, "{:,.0f}", ["0", "2", "4", "6", "8"]),  # counts: whole steps, never 0 1 2 4 5
        (1, "{:,.0f}", ["0", "1", "2", "3", "4"]),
        (62.49, "{:,.2f}", ["0.00", "20.00", "40.00", "60.00", "80.00"]),
        (100, "{:,.0f}", ["0", "25", "50", "75", "100"]),
        (0.66, "{:.0%}", ["0%", "20%", "40%", "60%", "80%"]),
    ],
)
def test_axis_ticks_are_round_numbers(value: float, value_format: str, ticks: list[str]) -> None:
    svg = str(charts.line_chart("Ticks", [charts.Series("s", [("a", value)])], value_format))
    labels = re.findall(r'text-anchor="end" font-size="11" fill="#697386">([^<]+)</text>', svg)
    assert labels == ticks
