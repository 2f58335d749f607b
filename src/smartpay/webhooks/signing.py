"""Stripe's webhook signature scheme, so ``stripe.Webhook.construct_event`` verifies
SmartPay's deliveries: ``Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret,
"<t>.<body>")>``, with one ``v1`` per live secret (two during a rotation overlap)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

SIGNATURE_HEADER = "Stripe-Signature"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secrets: Sequence[str], timestamp: int, body: bytes) -> str:
    parts = [f"t={timestamp}"]
    parts.extend(f"v1={signature(secret, timestamp, body)}" for secret in secrets)
    return ",".join(parts)
