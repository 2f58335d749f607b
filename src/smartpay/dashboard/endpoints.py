"""The dashboard's pages: ``/dashboard`` (overview charts), ``/dashboard/payments`` (a
filtered list) and one payment's page, ``/dashboard/reviews`` (the queue, with approve
and reject), ``/dashboard/decisions`` (the AI voters) and ``/dashboard/live`` (the event
stream), behind a login.

Pages are rendered on the server with Jinja2 (autoescaped: merchant data cannot inject
markup) and ship no JavaScript, except the live feed's one script served from here. The
session cookie is HttpOnly and SameSite=Strict, so another site can neither read it nor
make the browser send it with a forged form; POSTs also have their Origin checked when
the browser sends one, and the live feed's WebSocket always (browsers always send it).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request, WebSocket
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from smartpay.dashboard import charts, repository, service, timeline
from smartpay.dashboard.repository import SECONDS_PER_DAY
from smartpay.dashboard.service import DashboardUser
from smartpay.dependencies import DatabaseDep, SettingsDep, WriteContext
from smartpay.errors import PermissionDenied, ResourceMissing, SmartPayError
from smartpay.events import stream
from smartpay.kit.clock import now
from smartpay.kit.db import Database
from smartpay.kit.idempotency import request_fingerprint
from smartpay.kit.money import currency_exponent, format_amount
from smartpay.merchants.models import KeyKind
from smartpay.merchants.service import MerchantContext, get_merchant
from smartpay.payments.models import IntentStatus
from smartpay.payments.service import get_intent
from smartpay.risk import admin
from smartpay.risk.endpoints import Flows, Risk

router = APIRouter(prefix="/dashboard", include_in_schema=False)

COOKIE = "smartpay_dashboard"
OVERVIEW_DAYS = 30
PAYMENTS_PER_PAGE = 50
# The queue page shows one page of the API's list (its maximum page size); a merchant
# with more open reviews works through them, and the rest move up.
REVIEWS_PER_PAGE = 100
RECENT_DECISIONS = 25
# Server-rendered when the live page opens; the script then adds events as they come,
# keeping at most LIVE_FEED_MAX_ITEMS in the page (the same number, in live.js).
LIVE_FEED_INITIAL = 20
# No scripts at all; styles and images only from here; no framing by other sites.
_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": _POLICY,
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
}
# The live page alone runs a script (ours, from /dashboard/static) and opens a WebSocket
# back to this origin.
LIVE_PAGE_HEADERS = {
    **PAGE_HEADERS,
    "Content-Security-Policy": f"{_POLICY}; script-src 'self'; connect-src 'self'",
}
STATIC_FILES = {"dashboard.css": "text/css", "live.js": "text/javascript"}


@cache
def _templates() -> Environment:
    return Environment(
        loader=PackageLoader("smartpay.dashboard", "templates"),
        autoescape=select_autoescape(["html"]),
    )


def _render(
    name: str,
    status_code: int = 200,
    headers: dict[str, str] = PAGE_HEADERS,
    **context: Any,
) -> HTMLResponse:
    html = _templates().get_template(name).render(**context)
    return HTMLResponse(html, status_code=status_code, headers=headers)


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


@router.get("/static/{name}")
async def static_file(name: str) -> Response:
    media_type = STATIC_FILES.get(name)
    if media_type is None:  # a fixed list: no path from the URL reaches the file system
        return Response("Not found", status_code=404, media_type="text/plain")
    text = resources.files("smartpay.dashboard").joinpath("static", name).read_text()
    return Response(text, media_type=media_type, headers={"Cache-Control": "max-age=3600"})


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
async def overview(user: MaybeUser, db: DatabaseDep, settings: SettingsDep) -> Response:
    if user is None:
        return _to_login()
    async with db.transaction() as session:
        figures = await service.overview(session, user.merchant_id, OVERVIEW_DAYS, settings)
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
    savings_chart, savings_tiles = _savings(figures["costs"]["data"])
    return _render(
        "overview.html",
        user=user,
        days=OVERVIEW_DAYS,
        tiles=tiles + savings_tiles,
        volume_chart=volume_chart,
        approval_chart=approval_chart,
        savings_chart=savings_chart,
        risk_chart=_risk_distribution(figures["fraud"]),
    )


def _savings(cost_rows: list[dict[str, Any]]) -> tuple[Markup, list[dict[str, str]]]:
    """What was paid against Stripe's price, per currency. Each currency is drawn as a
    share of its own Stripe price (so USD and JPY fit one axis); the tiles and each
    bar's title give the exact amounts."""
    groups = []
    tiles = []
    for row in cost_rows:
        currency, total = row["currency"], row["total"]
        if not total["stripe_cost"]:
            continue
        paid, stripe = total["actual_cost"], total["stripe_cost"]
        groups.append(
            (
                currency.upper(),
                [paid / stripe, 1.0],
                [
                    f"Paid {format_amount(paid, currency)}",
                    f"Stripe's price {format_amount(stripe, currency)}",
                ],
            )
        )
        tiles.append(
            {
                "label": f"Saved vs Stripe {currency.upper()}",
                "value": format_amount(total["savings"], currency),
            }
        )
    chart = charts.grouped_bar_chart(
        "Processing cost against Stripe's price", ["Paid", "Stripe's price"], groups
    )
    return chart, tiles


def _risk_distribution(fraud: dict[str, Any]) -> Markup | None:
    """Assessed payments per risk-score bin; None when the risk engine is not installed."""
    if not fraud.get("available"):
        return None
    return charts.bar_chart(
        "Payments per risk score",
        [(f"{b['from']}–{b['to']}", float(b["count"])) for b in fraud["score_distribution"]],
        "{:,.0f}",
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
        history = await timeline.load(
            session, user.merchant_id, intent, [charge.id for charge in charge_rows]
        )
        decision = await service.consensus_of(session, user.merchant_id, intent.risk)
        review = (
            await service.review_outcome(session, user.merchant_id, intent.review_id)
            if intent.review_id
            else None
        )
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
    return _render(
        "payment.html",
        user=user,
        intent=_intent_view(intent),
        charges=charge_views,
        risk=_risk_view(intent.risk),
        decision=_decision_view(decision) if decision else None,
        review=review[0] if review else None,
        timeline=history,
    )


def _risk_view(risk: dict[str, Any] | None) -> dict[str, Any] | None:
    """The payment's risk object for reading: the consensus marker is shown as the
    decision itself, so only the merchant's and SmartPay's rules are listed as rules."""
    if not risk:
        return None
    reasons = risk.get("reasons") or {}
    return {
        "score": risk.get("score"),
        "decision": risk.get("decision"),
        "level": risk.get("risk_level"),
        "model_version": risk.get("model_version"),
        "rules": [
            rule
            for rule in reasons.get("rules") or []
            if not str(rule).startswith(service.CONSENSUS_REASON_PREFIX)
        ],
        "features": list(reasons.get("features") or []),
    }


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _decision_view(decision: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": decision["id"],
        "kind": decision["kind"],
        "subject": decision["subject"],
        "outcome": decision["outcome"],
        "strategy": decision["strategy"],
        "explanation": decision["explanation"],
        "escalated": decision["escalated"],
        "valid_votes": decision["valid_votes"],
        "abstentions": decision["abstentions"],
        "latency_text": f"{decision['latency_ms']:,.0f} ms",
        "ground_truth": decision["ground_truth"],
        "created_text": _when(decision["created"]),
        "votes": [
            {
                "voter": vote["voter"],
                "model": vote["model"],
                "status": vote["status"],
                "decision": vote["decision"] or "—",
                "confidence_text": _percent(vote["confidence"]),
                "rationale": vote["rationale"],
                "latency_text": f"{vote['latency_ms']:,.0f} ms",
            }
            for vote in decision["votes"]
        ],
    }


# ----------------------------------------------------------------- reviews


async def _reviews_page(
    user: DashboardUser,
    db: Database,
    *,
    closed: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    async with db.transaction() as session:
        queue = await service.open_reviews(session, user.merchant_id, REVIEWS_PER_PAGE)
        # Read back, scoped to this merchant: a link naming someone else's review shows
        # nothing.
        outcome = (
            await service.review_outcome(session, user.merchant_id, closed) if closed else None
        )
    items = [
        {
            "review": queued.review,
            "intent": _intent_view(queued.intent),
            "risk": _risk_view(queued.intent.risk),
            "decision": _decision_view(queued.decision) if queued.decision else None,
        }
        for queued in queue
    ]
    result = None
    if outcome is not None:
        review, intent = outcome
        result = {"review": review, "intent": _intent_view(intent)}
    return _render(
        "reviews.html", status_code=status_code, user=user, items=items, result=result, error=error
    )


@router.get("/reviews")
async def reviews(user: MaybeUser, db: DatabaseDep, closed: str | None = None) -> Response:
    if user is None:
        return _to_login()
    return await _reviews_page(user, db, closed=closed)


@router.post("/reviews/{review_id}/{verdict}")
async def close_review(
    review_id: str,
    verdict: Literal["approve", "reject"],
    request: Request,
    user: MaybeUser,
    db: DatabaseDep,
    settings: SettingsDep,
    flows: Flows,
    risk: Risk,
) -> Response:
    """What ``POST /v1/reviews/{id}/approve|reject`` does (the same `admin.close_review`),
    as the logged-in user's merchant; then back to the queue, which shows the result."""
    if user is None:
        return _to_login()
    _check_origin(request)
    async with db.transaction() as session:
        merchant = await get_merchant(session, user.merchant_id)
    ctx = WriteContext(
        database=db,
        settings=settings,
        # A dashboard user acts with the merchant's full rights, as a secret key does.
        merchant=MerchantContext(user.merchant_id, merchant.name, KeyKind.SECRET),
        # No Idempotency-Key: a second click finds the review closed and says so.
        idempotency_key=None,
        fingerprint=request_fingerprint(request.method, request.url.path, {}),
    )
    try:
        await admin.close_review(ctx, db, flows, risk, review_id, approve=verdict == "approve")
    except SmartPayError as error:  # unknown (or another merchant's), already closed...
        return await _reviews_page(user, db, error=error.message, status_code=error.http_status)
    return RedirectResponse(f"/dashboard/reviews?closed={review_id}", status_code=303)


# ----------------------------------------------------------------- AI decisions


@router.get("/decisions")
async def decisions(user: MaybeUser, db: DatabaseDep) -> Response:
    if user is None:
        return _to_login()
    async with db.transaction() as session:
        stats, recent = await service.decisions_overview(
            session, user.merchant_id, RECENT_DECISIONS
        )
    groups = []
    for voter in stats:
        accuracy = voter.record.accuracy
        groups.append(
            (
                voter.voter,
                [voter.agreement or 0.0, accuracy or 0.0],
                [
                    f"{voter.voter} agreed with the outcome: {_percent(voter.agreement)} "
                    f"of {voter.votes} votes",
                    f"{voter.voter} accuracy: {_percent(accuracy)} of "
                    f"{voter.record.judged} with ground truth",
                ],
            )
        )
    chart = charts.grouped_bar_chart(
        "Voters: agreement with the outcome and accuracy",
        ["Agreement", "Accuracy"],
        groups,
    )
    return _render(
        "decisions.html",
        user=user,
        chart=chart,
        voters=stats,
        decisions=[_decision_view(decision) for decision in recent],
    )


# ----------------------------------------------------------------- live feed


def _event_view(event: dict[str, Any]) -> dict[str, Any]:
    """What a feed line shows; live.js builds the same line from a streamed event."""
    subject = event["data"]["object"]
    payment = subject.get("id") if subject.get("object") == "payment_intent" else None
    return {
        "id": event["id"],
        "type": event["type"],
        "time_text": datetime.fromtimestamp(event["created"], UTC).strftime("%H:%M:%S"),
        "subject": subject.get("id"),
        "payment": payment or subject.get("payment_intent"),
    }


@router.get("/live")
async def live(user: MaybeUser, db: DatabaseDep) -> Response:
    if user is None:
        return _to_login()
    async with db.transaction() as session:
        events = await service.recent_events(session, user.merchant_id, LIVE_FEED_INITIAL)
    return _render(
        "live.html",
        headers=LIVE_PAGE_HEADERS,
        user=user,
        events=[_event_view(event) for event in events],
        # The newest event shown: the stream resumes after it, so nothing is missed
        # between the page's query and the socket's first poll.
        since=events[0]["id"] if events else "",
    )


async def _admit_dashboard_user(websocket: WebSocket) -> stream.Subscription:
    """The live page's listener: a logged-in dashboard user on a page of ours. The
    session is re-checked as often as the stream re-checks an API key."""
    # SameSite=Strict does not cover WebSockets everywhere, so the origin must be ours:
    # another site's page cannot read this merchant's feed with its cookie.
    origin = websocket.headers.get("origin")
    if origin is None or urlsplit(origin).netloc != websocket.url.netloc:
        raise stream.Refused(stream.CloseCode.FORBIDDEN, "Open the feed from the dashboard.")
    request = stream.parse_request(websocket.query_params)
    request.types = []  # the dashboard shows every event
    database: Database = websocket.app.state.database
    token = websocket.cookies.get(COOKIE)
    async with database.transaction() as session:
        user = await service.current_user(session, token)
    if user is None or token is None:
        raise stream.Refused(stream.CloseCode.UNAUTHORIZED, "Log in to the dashboard.")

    async def recheck() -> None:
        async with database.transaction() as session:
            if await service.current_user(session, token) is None:
                raise stream.Refused(stream.CloseCode.UNAUTHORIZED, "Logged out.")

    return stream.Subscription(user.merchant_id, request, recheck)


@router.websocket("/live/stream")
async def live_stream(websocket: WebSocket) -> None:
    """The live page's socket: ``?since=evt_…`` as on ``/v1/stream``; events only."""
    await stream.serve(websocket, _admit_dashboard_user, name="dashboard event stream")
