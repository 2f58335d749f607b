"""Manual reviews: a payment held for a person to approve or reject.

`open_review` is the one way to put a payment on hold, whoever decides it (the rules,
the model's score, the AI consensus): it records the review and links it to the
PaymentIntent, whose capture is then refused until the review is approved. Approving
and rejecting are in `service.ReviewService`, which moves the payment on.
"""

from __future__ import annotations

from typing import Any

from smartpay.kit.clock import now
from smartpay.kit.db import Session
from smartpay.kit.ids import new_id
from smartpay.payments.models import CaptureMethod
from smartpay.risk import repository
from smartpay.risk.models import ReviewStatus

REVIEW_ID_PREFIX = "prv"  # Stripe's prefix for Review objects


async def open_review(
    session: Session,
    *,
    merchant_id: str,
    payment_intent_id: str,
    reasons: list[str],
    source: str,
    capture_on_approve: bool | None = None,
) -> str:
    """Open a review of a payment and hold its capture; returns the review id.

    `source` says who asked ("rules", "model", "consensus"); `reasons` are short codes or
    rule ids a reviewer reads (never card data). `capture_on_approve` says whether
    approving should capture the payment; by default, when it was confirmed for
    automatic capture (the caller must then have authorized it without capturing).
    """
    if capture_on_approve is None:
        capture_method = await repository.intent_capture_method(
            session, merchant_id, payment_intent_id
        )
        capture_on_approve = capture_method != CaptureMethod.MANUAL.value
    review_id = new_id(REVIEW_ID_PREFIX)
    await repository.insert_review(
        session,
        id=review_id,
        merchant_id=merchant_id,
        payment_intent_id=payment_intent_id,
        status=ReviewStatus.OPEN.value,
        source=source,
        reasons=list(reasons),
        capture_on_approve=capture_on_approve,
        closed_reason=None,
        created=now(),
        closed_at=None,
    )
    await repository.link_review(session, payment_intent_id, review_id)
    return review_id


def render_review(row: Any) -> dict[str, Any]:
    """A review in Stripe's shape (``object: review``), with SmartPay's ``status``/``source``."""
    return {
        "id": row.id,
        "object": "review",
        "payment_intent": row.payment_intent_id,
        "open": row.status == ReviewStatus.OPEN.value,
        "status": row.status,
        "reason": row.source if row.status == ReviewStatus.OPEN.value else row.closed_reason,
        "opened_reason": "rule" if row.source == "rules" else row.source,
        "source": row.source,
        "reasons": list(row.reasons or []),
        "closed_reason": row.closed_reason,
        "created": row.created,
        "closed_at": row.closed_at,
        "livemode": False,
    }
