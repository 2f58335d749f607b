"""The fraud and AI-decision sections.

They read tables other domains own: the risk engine's (a ``risk`` object on each
assessed payment intent, reviews, fraud labels) and the decisions domain's (decisions
and votes). A deployment without those domains still gets every other section: these
two then say ``"available": false`` instead of failing.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from typing import Any

from smartpay.config import Settings
from smartpay.kit.db import Session
from smartpay.payments.models import payment_intents
from smartpay.reports.repository import Period

# Rates rounded as the other sections' (reports.service.RATE_DIGITS).
RATE_DIGITS = 4
COST_DIGITS = 6  # voter costs are fractions of a US cent
LATENCY_DIGITS = 1


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, RATE_DIGITS) if whole else None


@cache
def _installed(*modules: str) -> bool:
    return all(importlib.util.find_spec(name) is not None for name in modules)


def risk_available() -> bool:
    return "risk" in payment_intents.c and _installed("smartpay.risk.models")


def decisions_available() -> bool:
    return _installed("smartpay.decisions.models", "smartpay.risk.models")


async def fraud(
    session: Session, merchant_id: str, period: Period, _settings: Settings
) -> dict[str, Any]:
    """Risk decisions (allowed, flagged for review, blocked), the score distribution,
    reviews, and fraud and chargeback rates of the period's payments."""
    if not risk_available():
        return {"available": False, "reason": "The risk engine is not installed."}
    from smartpay.reports import fraud_repository as repo

    decisions = {
        row.decision: int(row.n) for row in await repo.risk_decisions(session, merchant_id, period)
    }
    assessed = sum(decisions.values())
    reviews = {
        row.status: int(row.n) for row in await repo.reviews_by_status(session, merchant_id, period)
    }
    closed = reviews.get("approved", 0) + reviews.get("rejected", 0)
    labels = await repo.fraud_labels(session, merchant_id, period)
    succeeded, chargebacks = int(labels.succeeded), int(labels.chargebacks)
    return {
        "available": True,
        "assessed": assessed,
        "allowed": decisions.get("allow", 0),
        "flagged": decisions.get("review", 0),
        "blocked": decisions.get("block", 0),
        "flagged_rate": _rate(decisions.get("review", 0), assessed),
        "blocked_rate": _rate(decisions.get("block", 0), assessed),
        "reviews": {
            "opened": sum(reviews.values()),
            "open": reviews.get("open", 0),
            "approved": reviews.get("approved", 0),
            "rejected": reviews.get("rejected", 0),
            "reviewed": closed,
        },
        "fraud_labelled": int(labels.fraud),
        "chargebacks": chargebacks,
        "succeeded_payments": succeeded,
        "chargeback_rate": _rate(chargebacks, succeeded),
        "score_distribution": [
            {
                "from": int(row.bin),
                "to": int(row.bin)
                + repo.SCORE_BIN_WIDTH
                - (0 if int(row.bin) == repo.LAST_SCORE_BIN else 1),
                "count": int(row.n),
            }
            for row in await repo.score_bins(session, merchant_id, period)
        ],
    }


async def decisions(
    session: Session, merchant_id: str, period: Period, _settings: Settings
) -> dict[str, Any]:
    """AI consensus decisions: per kind and outcome; each voter's agreement with the
    outcome and accuracy against the ground truth learnt later."""
    if not decisions_available():
        return {"available": False, "reason": "AI decisions are not installed."}
    from smartpay.reports import fraud_repository as repo

    by_kind = await repo.decisions_by_kind(session, merchant_id, period)
    total = sum(int(row.n) for row in by_kind)
    labelled = sum(int(row.labelled) for row in by_kind)
    correct = sum(int(row.correct) for row in by_kind)
    voters = await repo.votes_by_voter(session, merchant_id, period)
    voted = sum(int(row.voted) for row in voters)
    agreed = sum(int(row.agreed) for row in voters)
    unanimous = await repo.unanimous_decisions(session, merchant_id, period)
    return {
        "available": True,
        "decisions": total,
        "escalated": sum(int(row.escalated) for row in by_kind),
        "unanimous": unanimous,
        "unanimous_rate": _rate(unanimous, total),
        "agreement_rate": _rate(agreed, voted),
        "labelled": labelled,
        "accuracy": _rate(correct, labelled),
        "by_kind": [
            {
                "kind": row.kind,
                "outcome": row.outcome,
                "count": int(row.n),
                "escalated": int(row.escalated),
                "labelled": int(row.labelled),
                "accuracy": _rate(int(row.correct), int(row.labelled)),
                "mean_latency_ms": round(float(row.latency_ms), LATENCY_DIGITS),
                "cost_usd": round(float(row.cost_usd), COST_DIGITS),
            }
            for row in by_kind
        ],
        "voters": [
            {
                "voter": row.voter,
                "votes": int(row.n),
                "voted": int(row.voted),
                "abstained": int(row.n) - int(row.voted),
                "agreement_rate": _rate(int(row.agreed), int(row.voted)),
                "labelled": int(row.labelled),
                "accuracy": _rate(int(row.correct), int(row.labelled)),
                "mean_latency_ms": round(float(row.latency_ms), LATENCY_DIGITS),
                "cost_usd": round(float(row.cost_usd), COST_DIGITS),
            }
            for row in voters
        ],
    }
