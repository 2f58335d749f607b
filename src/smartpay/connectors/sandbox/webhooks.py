"""The sandbox processor's webhooks: how it signs them and how SmartPay verifies them,
side by side so the two cannot drift.

Scheme, modelled on Stripe's:

- header ``Sandbox-Signature: t=<unix seconds>,v1=<hex>``, where ``v1`` is
  HMAC-SHA256(profile secret, ``"<t>."`` + the raw body). Several ``v1`` entries may be
  sent (during a secret rotation); one matching is enough;
- a signature whose ``t`` is more than ``TOLERANCE_SECONDS`` from now is refused, so a
  captured delivery cannot be replayed later;
- the profile secret is HMAC-SHA256(``Settings.sandbox_webhook_secret``,
  ``"sandbox-webhook:<profile name>"``): every process with the same settings derives the
  same key, and no two profiles share one.

The body is JSON: ``{"id": "sbevt_…", "type": "authorization.challenge_completed",
"created": <unix>, "data": {"processor_reference": "sbch_…", …}}``. It never carries
card data.

Delivery: the sandbox runs inside SmartPay, so instead of an HTTP POST to
``/webhooks/<profile>`` it hands the signed bytes and headers to a ``WebhookSink`` (wired
by ``connectors.registry`` to ``inbound.service.receive``, the function behind that
endpoint). The signature is still checked by the same code on the way in.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import Any, Final

import orjson

from smartpay.connectors.base import ProviderEvent, ProviderEventKind, WebhookVerifier
from smartpay.errors import InvalidRequest, SignatureInvalid
from smartpay.kit.ids import new_id

logger = logging.getLogger(__name__)

SIGNATURE_HEADER: Final = "sandbox-signature"
# Stripe's default tolerance: five minutes covers clock skew and a slow retry.
TOLERANCE_SECONDS: Final = 300
# Signed header values are short; a longer one is garbage and is not parsed.
MAX_HEADER_LENGTH: Final = 1_000

# The sandbox's event types and what they mean to SmartPay.
EVENT_KINDS: Final[Mapping[str, ProviderEventKind]] = MappingProxyType(
    {
        "authorization.challenge_completed": ProviderEventKind.PAYMENT_UPDATED,
        "authorization.updated": ProviderEventKind.PAYMENT_UPDATED,
        "capture.updated": ProviderEventKind.PAYMENT_UPDATED,
        "refund.updated": ProviderEventKind.PAYMENT_UPDATED,
        "dispute.created": ProviderEventKind.DISPUTE,
        "dispute.updated": ProviderEventKind.DISPUTE,
        "ach.returned": ProviderEventKind.ACH_RETURN,
    }
)

# Hands one signed delivery to SmartPay: (the sending connector, raw body, headers).
WebhookSink = Callable[[WebhookVerifier, bytes, dict[str, str]], Awaitable[object]]


def profile_secret(master_secret: str, profile_name: str) -> bytes:
    return hmac.new(
        master_secret.encode(), f"sandbox-webhook:{profile_name}".encode(), hashlib.sha256
    ).digest()


def _mac(secret: bytes, timestamp: int, body: bytes) -> str:
    return hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: bytes, body: bytes, timestamp: int) -> dict[str, str]:
    """The headers that go with ``body`` sent at ``timestamp``."""
    return {
        SIGNATURE_HEADER: f"t={timestamp},v1={_mac(secret, timestamp, body)}",
        "content-type": "application/json",
    }


def verify(secret: bytes, body: bytes, headers: Mapping[str, str], now: int) -> None:
    """Raise ``SignatureInvalid`` unless ``headers`` carry a fresh, valid signature of
    ``body``. Header names are matched lower-case."""
    header = headers.get(SIGNATURE_HEADER)
    if not header or len(header) > MAX_HEADER_LENGTH:
        raise SignatureInvalid(f"Missing or malformed {SIGNATURE_HEADER} header.")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        raise SignatureInvalid(f"Missing or malformed {SIGNATURE_HEADER} header.")
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        raise SignatureInvalid("The webhook's timestamp is outside the tolerance window.")
    expected = _mac(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in candidates):
        raise SignatureInvalid("No signature matches the expected signature for the payload.")


def parse(body: bytes) -> ProviderEvent:
    """A verified body as a ``ProviderEvent``; ``InvalidRequest`` if it is malformed."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InvalidRequest("The webhook body is not valid JSON.") from None
    if not isinstance(document, dict):
        raise InvalidRequest("The webhook body must be a JSON object.")
    event_id, event_type = document.get("id"), document.get("type")
    created, data = document.get("created"), document.get("data")
    if not (
        isinstance(event_id, str)
        and 0 < len(event_id) <= 255
        and isinstance(event_type, str)
        and 0 < len(event_type) <= 120
        and isinstance(created, int)
        and isinstance(data, dict)
    ):
        raise InvalidRequest("The webhook body needs id, type, created and data.")
    reference = data.get("processor_reference")
    return ProviderEvent(
        event_id=event_id,
        type=event_type,
        kind=EVENT_KINDS.get(event_type, ProviderEventKind.OTHER),
        processor_reference=reference if isinstance(reference, str) else None,
        created=created,
        payload=document,
    )


def build_event(event_type: str, data: dict[str, Any], created: int) -> bytes:
    return orjson.dumps(
        {"id": new_id("sbevt"), "type": event_type, "created": created, "data": data}
    )


class SandboxWebhookSender:
    """Signs the sandbox's events and hands them to SmartPay. A failed delivery is logged
    and dropped: SmartPay also learns outcomes by asking (the janitor, the challenge page)."""

    def __init__(self, secret: bytes, sink: WebhookSink | None) -> None:
        self.secret = secret
        self.sink = sink

    async def send(
        self, sender: WebhookVerifier, event_type: str, data: dict[str, Any], now: int
    ) -> None:
        if self.sink is None:
            return
        body = build_event(event_type, data, now)
        try:
            await self.sink(sender, body, sign(self.secret, body, now))
        except Exception as exc:
            # The body holds no card data, but it is not logged anyway: the type says enough.
            logger.warning(
                "sandbox %s: webhook %s not delivered: %s", sender.name, event_type, type(exc)
            )
