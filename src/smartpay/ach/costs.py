"""The cost monitor: for every captured card charge and every ACH transfer, what it
actually cost to process and what Stripe's standard pricing would have charged, stored
in ``processing_costs``; the report sums the savings.

Card charges are recorded by the worker (and before every report) from the charges
table's processor fee, so the payment flows need no hook.
"""

from __future__ import annotations

from typing import Any

from smartpay.ach import repository
from smartpay.config import Settings
from smartpay.kit.db import Session
from smartpay.kit.money import currency_exponent, percentage_fee

# Stripe's standard US pricing (stripe.com/pricing): cards 2.9% + 30¢; ACH Direct Debit
# 0.8% capped at $5.00.
STRIPE_CARD_BASIS_POINTS = 290
STRIPE_CARD_FIXED_CENTS = 30
STRIPE_ACH_BASIS_POINTS = 80
STRIPE_ACH_CAP_CENTS = 500
# Charges recorded per call: bounds one transaction; the worker catches up over rounds.
COST_BACKFILL_BATCH = 1_000


def stripe_card_price(amount: int, currency: str) -> int:
    """2.9% + 30¢; in another currency the same rate and 30 US cents' worth of minor
    units at face value (no exchange rate: a comparison, not an invoice)."""
    fixed = STRIPE_CARD_FIXED_CENTS * 10 ** currency_exponent(currency) // 100
    return percentage_fee(amount, STRIPE_CARD_BASIS_POINTS, fixed)


def stripe_ach_price(amount: int) -> int:
    return min(percentage_fee(amount, STRIPE_ACH_BASIS_POINTS, 0), STRIPE_ACH_CAP_CENTS)


def ach_cost_row(transfer: Any, fee: int, now: int) -> dict[str, Any]:
    return {
        "object_type": "ach_transfer",
        "object_id": transfer.id,
        "merchant_id": transfer.merchant_id,
        "currency": transfer.currency,
        "amount": transfer.amount,
        "actual_cost": fee,
        "stripe_cost": stripe_ach_price(transfer.amount),
        "created": now,
    }


async def record_card_costs(session: Session, limit: int = COST_BACKFILL_BATCH) -> int:
    """Cost rows for captured charges that have none yet. Returns how many were added."""
    rows = await repository.captured_charges_without_cost(session, limit)
    await repository.insert_costs(
        session,
        [
            {
                "object_type": "charge",
                "object_id": row.id,
                "merchant_id": row.merchant_id,
                "currency": row.currency,
                "amount": row.amount_captured,
                "actual_cost": row.fee,
                "stripe_cost": stripe_card_price(row.amount_captured, row.currency),
                "created": row.created,
            }
            for row in rows
        ],
    )
    return len(rows)


def _totals(count: int, amount: int, actual: int, stripe: int) -> dict[str, int]:
    return {
        "count": count,
        "amount": amount,
        "actual_cost": actual,
        "stripe_cost": stripe,
        "savings": stripe - actual,
    }


async def report(
    session: Session, merchant_id: str, settings: Settings, gte: int | None, lt: int | None
) -> dict[str, Any]:
    """The cost report of one merchant: per currency, card and ACH totals and savings;
    and what batching saved against paying per entry."""
    while await record_card_costs(session) == COST_BACKFILL_BATCH:
        pass
    by_currency: dict[str, dict[str, dict[str, int]]] = {}
    for row in await repository.cost_totals(session, merchant_id, gte, lt):
        kind = "card" if row.object_type == "charge" else "ach"
        by_currency.setdefault(row.currency, {})[kind] = _totals(
            int(row.n), int(row.amount), int(row.actual_cost), int(row.stripe_cost)
        )
    data = []
    for currency, kinds in sorted(by_currency.items()):
        empty = _totals(0, 0, 0, 0)
        card, ach = kinds.get("card", empty), kinds.get("ach", empty)
        data.append(
            {
                "currency": currency,
                "card": card,
                "ach": ach,
                "total": _totals(
                    card["count"] + ach["count"],
                    card["amount"] + ach["amount"],
                    card["actual_cost"] + ach["actual_cost"],
                    card["stripe_cost"] + ach["stripe_cost"],
                ),
            }
        )
    batching = await repository.batching_totals(session, merchant_id, gte, lt)
    entries, fees = int(batching.entries), int(batching.fees)
    per_entry = entries * settings.ach_fee_amount
    return {
        "object": "cost_report",
        "livemode": False,
        "pricing": {
            "card": {"percent": STRIPE_CARD_BASIS_POINTS / 100, "fixed": STRIPE_CARD_FIXED_CENTS},
            "ach": {"percent": STRIPE_ACH_BASIS_POINTS / 100, "cap": STRIPE_ACH_CAP_CENTS},
        },
        "data": data,
        "ach_batching": {
            "fee_model": settings.ach_fee_model,
            "fee_amount": settings.ach_fee_amount,
            "batches": int(batching.batches),
            "entries": entries,
            "fees_paid": fees,
            "fees_if_per_entry": per_entry,
            "savings_vs_per_entry": per_entry - fees,
        },
    }
