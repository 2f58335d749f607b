"""The dashboard's pages: ``/dashboard`` (overview charts), ``/dashboard/payments`` (a
filtered list) and one payment's page, behind a login.

Pages are rendered on the server with Jinja2 (autoescaped: merchant data cannot inject
markup) and ship no JavaScript. The session cookie is HttpOnly and SameSite=Strict, so
another site can neither read it nor make the browser send it with a forged form; POSTs
also have their Origin checked when the browser sends one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from smartpay.dashboard import charts, repository, service
from smartpay.dashboard.repository import SECONDS_PER_DAY
from smartpay.dashboard.service import DashboardUser
from smartpay.dependencies import DatabaseDep
from smartpay.errors import PermissionDenied, ResourceMissing
from smartpay.kit.clock import now
from smartpay.kit.money import currency_exponent, format_amount
from smartpay.payments.models import IntentStatus
from smartpay.payments.service import get_intent

router = APIRouter(prefix="/dashboard", include_in_schema=False)

COOKIE = "smartpay_dashboard"
OVERVIEW_DAYS = 30
PAYMENTS_PER_PAGE = 50
# No scripts at all; styles and images only from here; no framing by other sites.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
}


@cache
def _templates() -> Environment:
    return Environment(
        loader=PackageLoader("smartpay.dashboard", "templates"),
        autoescape=select_autoescape(["html"]),
    )


def _render(name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    html = _templates().get_template(name).render(**context)
    return HTMLResponse(html, status_code=status_code, headers=PAGE_HEADERS)


def _when(unix: int) -> str:
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%d %H:%M UTC")


async def _user(request: Request, db: DatabaseDep) -> DashboardUser | None:
    async with db.transaction() as session:
        return await service.current_user(session, request.cookies.get(COOKIE))


MaybeUser = Annotated[DashboardUser | None, Depends(_user)]


def _check_origin(request: Request) -> None:
    """A browser names the page a form came from; it must be one of ours."""
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.url.netloc:
        raise PermissionDenied("This form was sent from another site.")


def _to_login() -> RedirectResponse:
    return RedirectResponse("/dashboard/login", status_code=303)


@router.get("/static/dashboard.css")
async def stylesheet() -> Response:
    css = resources.files("smartpay.dashboard").joinpath("static", "dashboard.css").read_text()
    return Response(css, media_type="text/css", headers={"Cache-Control": "max-age=3600"})


@router.get("/login")
async def login_page(user: MaybeUser) -> Response:
    if user is not None:
        return RedirectResponse("/dashboard", status_code=303)
    return _render("login.html", user=None, error=None, email="")


@router.post("/login")
async def login(
    request: Request,
    db: DatabaseDep,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1024)],
) -> Response:
    _check_origin(request)
    async with db.transaction() as session:
        token = await service.log_in(session, email, password)
    if token is None:
        return _render(
            "login.html",
            status_code=401,
            user=None,
            error="That email and password do not match an account.",
            email=email,
        )
    response = RedirectResponse("/dashboard", status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        max_age=service.SESSION_SECONDS,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/dashboard",
    )
    return response


@router.post("/logout")
async def logout(request: Request, db: DatabaseDep) -> Response:
    _check_origin(request)
    token = request.cookies.get(COOKIE)
    if token:
        async with db.transaction() as session:
            await service.log_out(session, token)
    response = _to_login()
    response.delete_cookie(COOKIE, path="/dashboard")
    return response


@router.get("")
async def overview(user: MaybeUser, db: DatabaseDep) -> Response:
    if user is None:
        return _to_login()
    async with db.transaction() as session:
        figures = await service.overview(session, user.merchant_id, OVERVIEW_DAYS)
    # Every day of the window on the x axis (days without sales at zero), so the line
    # shows quiet days as quiet rather than skipping them.
    today = now() // SECONDS_PER_DAY * SECONDS_PER_DAY
    days = [today - SECONDS_PER_DAY * back for back in range(OVERVIEW_DAYS - 1, -1, -1)]
    daily: dict[str, dict[int, int]] = {}
    totals: dict[str, int] = {}
    count = 0
    for day, currency, amount, charges_that_day in figures["volume"]:
        daily.setdefault(currency, {})[day] = amount
        totals[currency] = totals.get(currency, 0) + amount
        count += charges_that_day
    by_currency = {
        # Plotted in major units for reading; the tiles keep exact minor units.
        currency.upper(): [
            (
                datetime.fromtimestamp(day, UTC).strftime("%m-%d"),
                amounts.get(day, 0) / 10 ** currency_exponent(currency),
            )
            for day in days
        ]
        for currency, amounts in daily.items()
    }
    approved = sum(a for _, a, _ in figures["processors"])
    decided = sum(n for _, _, n in figures["processors"])
    tiles = [
        *(
            {"label": f"Volume {c.upper()}", "value": format_amount(t, c)}
            for c, t in totals.items()
        ),
        {"label": "Successful payments", "value": f"{count:,}"},
        {"label": "Approval rate", "value": f"{approved / decided:.1%}" if decided else "—"},
    ]
    volume_chart = charts.line_chart(
        "Captured volume per day",
        [charts.Series(currency, points) for currency, points in by_currency.items()],
        "{:,.2f}",
    )
    approval_chart = charts.bar_chart(
        "Approval rate per processor",
        [(processor, ok / n) for processor, ok, n in figures["processors"] if n],
    )
    return _render(
        "overview.html",
        user=user,
        days=OVERVIEW_DAYS,
        tiles=tiles,
        volume_chart=volume_chart,
        approval_chart=approval_chart,
    )


def _intent_view(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "status": row.status,
        "amount_text": format_amount(row.amount, row.currency),
        "created_text": _when(row.created),
        "description": row.description,
        "capture_method": row.capture_method,
        "last_payment_error": row.last_payment_error,
    }


@router.get("/payments")
async def payments(user: MaybeUser, db: DatabaseDep, status: str | None = None) -> Response:
    if user is None:
        return _to_login()
    statuses = [s.value for s in IntentStatus]
    chosen = status if status in statuses else None
    async with db.transaction() as session:
        rows = await repository.recent_intents(session, user.merchant_id, chosen, PAYMENTS_PER_PAGE)
    return _render(
        "payments.html",
        user=user,
        statuses=statuses,
        status=chosen,
        intents=[_intent_view(row) for row in rows],
    )


@router.get("/payments/{intent_id}")
async def payment(intent_id: str, user: MaybeUser, db: DatabaseDep) -> Response:
    if user is None:
        return _to_login()
    async with db.transaction() as session:
        try:
            intent = await get_intent(session, user.merchant_id, intent_id)
        except ResourceMissing:  # unknown, or another merchant's
            return _render("missing.html", status_code=404, user=user, intent_id=intent_id)
        charge_rows = await repository.intent_charges(session, user.merchant_id, intent_id)
    charge_views = [
        {
            "id": c.id,
            "card_text": f"{(c.card or {}).get('brand', '').title()} •••• "
            f"{(c.card or {}).get('last4', '')}",
            "processor": c.processor,
            "status": c.status,
            "captured_text": format_amount(c.amount_captured, c.currency),
            "refunded_text": format_amount(c.amount_refunded, c.currency),
            "fee_text": format_amount(c.fee, c.currency),
        }
        for c in charge_rows
    ]
    return _render("payment.html", user=user, intent=_intent_view(intent), charges=charge_views)
