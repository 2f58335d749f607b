"""Reports: one merchant's figures for a period, section by section.

Each section is built from a few GROUP BY queries (reports.repository) and is JSON-ready:
money stays integer minor units next to its currency and is never added across
currencies; counts and rates (which have no currency) are. A rate is None when nothing
was there to measure, never a made-up 0.

Costs come from the existing cost monitor (ach.costs) rather than a second computation.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from smartpay.ach import costs
from smartpay.config import Settings
from smartpay.kit.clock import now
from smartpay.kit.db import Session
from smartpay.reports import fraud, repository
from smartpay.reports.repository import LATENCY_PERCENTILES, Period

# Rates are rounded for reading; four places keep a hundredth of a percent.
RATE_DIGITS = 4
LATENCY_DIGITS = 1

SectionBuilder = Callable[[Session, str, Period, Settings], Awaitable[dict[str, Any]]]


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, RATE_DIGITS) if whole else None


def _charge_group(row: Any, key_name: str | None) -> dict[str, Any]:
    decided = int(row.succeeded) + int(row.failed)
    group: dict[str, Any] = {key_name: row.key} if key_name else {}
    group.update(
        currency=row.currency,
        count=int(row.n),
        succeeded=int(row.succeeded),
        failed=int(row.failed),
        pending=int(row.pending),
        amount=int(row.amount),
        amount_succeeded=int(row.amount_succeeded),
        amount_captured=int(row.amount_captured),
        amount_refunded=int(row.amount_refunded),
        fees=int(row.fees),
        approval_rate=rate(int(row.succeeded), decided),
    )
    return group


async def volume(
    session: Session, merchant_id: str, period: Period, _settings: Settings
) -> dict[str, Any]:
    """Payment intents by status; charges by currency, processor and card brand."""
    by_status = [
        {
            "status": row.status,
            "currency": row.currency,
            "count": int(row.n),
            "amount": int(row.amount),
        }
        for row in await repository.intents_by_status(session, merchant_id, period)
    ]
    sections: dict[str, Any] = {"by_status": by_status}
    for dimension, name, key_name in (
        ("currency", "by_currency", None),
        ("processor", "by_processor", "processor"),
        ("brand", "by_card_brand", "brand"),
    ):
        rows = await repository.charges_by(session, merchant_id, period, dimension)
        sections[name] = [_charge_group(row, key_name) for row in rows]
    return sections


def _approvals_over(rows: Sequence[Any], key_name: str) -> list[dict[str, Any]]:
    """Counts per key over every currency (counts add up across currencies; money not)."""
    totals: dict[str, list[int]] = {}
    for row in rows:
        approved, decided = totals.setdefault(row.key, [0, 0])
        totals[row.key] = [approved + int(row.succeeded), decided + int(row.succeeded + row.failed)]
    return [
        {key_name: key, "approved": ok, "decided": n, "approval_rate": rate(ok, n)}
        for key, (ok, n) in sorted(totals.items())
    ]


async def approvals(
    session: Session, merchant_id: str, period: Period, _settings: Settings
) -> dict[str, Any]:
    """Approved charges over decided ones (succeeded + failed; pending ones wait)."""
    by_currency = await repository.charges_by(session, merchant_id, period, "currency")
    approved = sum(int(row.succeeded) for row in by_currency)
    decided = approved + sum(int(row.failed) for row in by_currency)
    by_processor = await repository.charges_by(session, merchant_id, period, "processor")
    by_brand = await repository.charges_by(session, merchant_id, period, "brand")
    return {
        "approved": approved,
        "decided": decided,
        "approval_rate": rate(approved, decided),
        "by_processor": _approvals_over(by_processor, "processor"),
        "by_card_brand": _approvals_over(by_brand, "brand"),
    }


async def declines(
    session: Session, merchant_id: str, period: Period, _settings: Settings
) -> dict[str, Any]:
    """Failed charges by error code and the issuer's decline code."""
    rows = await repository.decline_reasons(session, merchant_id, period)
    total = sum(int(row.n) for row in rows)
    return {
        "total": total,
        "data": [
            {
                "code": row.failure_code,
                "decline_code": row.decline_code,
                "count": int(row.n),
                "share": rate(int(row.n), total),
            }
            for row in rows
        ],
    }


async def refunds(
    session: Session, merchant_id: str, period: Period, _settings: Settings
) -> dict[str, Any]:
    """Refunds created in the period, per currency and status; the refund rate is the
    amount refunded (succeeded) over the amount captured by the period's charges."""
    by_status = await repository.refunds_by_status(session, merchant_id, period)
    captured = {
        row.currency: int(row.amount_captured)
        for row in await repository.charges_by(session, merchant_id, period, "currency")
    }
    per_currency: dict[str, dict[str, int]] = {}
    for row in by_status:
        entry = per_currency.setdefault(row.currency, {"count": 0, "amount": 0})
        entry["count"] += int(row.n)
        entry[f"amount_{row.status}"] = int(row.amount)
        entry["amount"] += int(row.amount)
    by_currency = []
    for currency in sorted(set(per_currency) | set(captured)):
        entry = per_currency.get(currency, {"count": 0, "amount": 0})
        refunded = entry.get("amount_succeeded", 0)
        by_currency.append(
            {
                "currency": currency,
                "count": entry["count"],
                "amount": entry["amount"],
                "amount_succeeded": refunded,
                "amount_pending": entry.get("amount_pending", 0),
                "amount_failed": entry.get("amount_failed", 0),
                "amount_captured": captured.get(currency, 0),
                "refund_rate": rate(refunded, captured.get(currency, 0)),
            }
        )
    reasons = await repository.refund_reasons(session, merchant_id, period)
    return {
        "by_currency": by_currency,
        "by_status": [
            {
                "currency": row.currency,
                "status": row.status,
                "count": int(row.n),
                "amount": int(row.amount),
            }
            for row in by_status
        ],
        "reasons": [{"reason": row.reason, "count": int(row.n)} for row in reasons],
    }


async def cost_section(
    session: Session, merchant_id: str, period: Period, settings: Settings
) -> dict[str, Any]:
    """The cost monitor's report (what was paid, what Stripe would have charged)."""
    body = await costs.report(session, merchant_id, settings, period.start, period.end)
    return {key: value for key, value in body.items() if key not in ("object", "livemode")}


async def routing(
    session: Session, merchant_id: str, period: Period, _settings: Settings
) -> dict[str, Any]:
    """Authorization attempts per processor: share of all attempts and approval rate
    (approved over the issuer's answers; technical failures are counted apart)."""
    rows = await repository.attempts_by_processor(session, merchant_id, period)
    total = sum(int(row.attempts) for row in rows)
    return {
        "attempts": total,
        "cascaded_charges": await repository.cascaded_charges(session, merchant_id, period),
        "data": [
            {
                "processor": row.processor,
                "attempts": int(row.attempts),
                "share": rate(int(row.attempts), total),
                "payments": int(row.payments),
                "succeeded": int(row.succeeded),
                "declined": int(row.declined),
                "failed": int(row.failed),
                "unknown": int(row.unknown),
                "open": int(row.open),
                "approval_rate": rate(int(row.succeeded), int(row.succeeded + row.declined)),
                "failure_rate": rate(int(row.failed + row.unknown), int(row.attempts)),
            }
            for row in rows
        ],
    }


def _percentile_rows(rows: Sequence[Any]) -> list[dict[str, Any]]:
    by_processor: dict[str | None, dict[str, Any]] = {}
    for row in rows:
        count, rank = int(row.total), int(row.rank)
        entry = by_processor.setdefault(row.processor, {"count": count})
        value = round(float(row.latency_ms), LATENCY_DIGITS)
        for p in LATENCY_PERCENTILES:
            if rank == (count * p + 99) // 100:
                entry[f"p{p}_ms"] = value
        if rank == count:
            entry["max_ms"] = value
    return [{"processor": processor or "all", **entry} for processor, entry in by_processor.items()]


async def latency(
    session: Session, merchant_id: str, period: Period, _settings: Settings
) -> dict[str, Any]:
    """Nearest-rank percentiles of the authorization calls' duration (started to
    finished), over all processors and per processor."""
    overall = await repository.latency_percentiles(
        session, merchant_id, period, per_processor=False
    )
    per_processor = await repository.latency_percentiles(
        session, merchant_id, period, per_processor=True
    )
    return {
        "percentiles": list(LATENCY_PERCENTILES),
        "data": _percentile_rows(overall) + _percentile_rows(per_processor),
    }


# Every section in the order reports show them. ``/v1/reports/<name>`` serves each one
# (``costs`` is the cost monitor's own route) and ``/v1/reports/summary`` all of them.
SECTIONS: dict[str, SectionBuilder] = {
    "volume": volume,
    "approvals": approvals,
    "declines": declines,
    "refunds": refunds,
    "costs": cost_section,
    "routing": routing,
    "latency": latency,
    "fraud": fraud.fraud,
    "decisions": fraud.decisions,
}


async def build(
    session: Session,
    merchant_id: str,
    period: Period,
    settings: Settings,
    sections: Sequence[str] | None = None,
    on_section: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """The report of ``sections`` (default: all), each under its name. ``on_section``
    hears each name as it is done (the CLI's progress bar)."""
    body: dict[str, Any] = {
        "object": "report",
        "merchant": merchant_id,
        "period": {"start": period.start, "end": period.end},
        "generated": now(),
        "livemode": False,
    }
    for name in sections or list(SECTIONS):
        body[name] = await SECTIONS[name](session, merchant_id, period, settings)
        if on_section is not None:
            on_section(name)
    return body
