"""The processor contract: a small Protocol and provider-neutral dataclasses.

Every processor (sandbox, Stripe, PayPal…) implements ``Connector``. SmartPay's payment
service only ever talks to this interface, chosen from the registry by configuration.

Error contract for every call:
- a logical outcome (approved, declined, requires_action) is a returned result;
- ``errors.ProcessorUnavailable``: the processor certainly did nothing (connection
  refused, 5xx before processing). Safe to retry or fail over;
- ``errors.OutcomeUnknown``: the request may or may not have been processed (timeout).
  The caller records the attempt as unknown; ``status()`` resolves it later.

Every mutating call carries an idempotency key derived from SmartPay's attempt id, so a
retry after an unknown outcome never charges twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable


@dataclass(slots=True)
class CardData:
    """Card details in plaintext, alive only for the duration of a processor call."""

    number: str
    exp_month: int
    exp_year: int
    cvc: str | None = None
    holder_name: str | None = None

    def __repr__(self) -> str:
        # Never let a PAN or CVC reach a log line through repr() or an f-string.
        return f"CardData(last4={self.number[-4:]}, exp={self.exp_month:02d}/{self.exp_year})"

    __str__ = __repr__

    def wipe(self) -> None:
        """Drop the references to the secret strings (Python strings cannot be zeroed)."""
        self.number = ""
        self.cvc = None


class AuthOutcome(StrEnum):
    APPROVED = "approved"  # authorized (and captured when capture=True)
    DECLINED = "declined"  # a logical decline: never retried
    REQUIRES_ACTION = "requires_action"  # 3-D Secure challenge pending


class OperationStatus(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(slots=True, frozen=True)
class AuthorizeRequest:
    idempotency_key: str
    merchant_id: str
    amount: int
    currency: str
    card: CardData
    capture: bool
    description: str | None = None


@dataclass(slots=True, frozen=True)
class AuthorizeResult:
    outcome: AuthOutcome
    processor_reference: str
    captured_amount: int = 0
    fee: int = 0  # fee charged on the captured amount, in the same minor units
    decline_code: str | None = None
    error_code: str | None = None  # Stripe error code, e.g. card_declined, incorrect_cvc
    message: str | None = None
    action_url: str | None = None  # where a 3-D Secure challenge is completed


@dataclass(slots=True, frozen=True)
class OperationResult:
    """Result of capture, void or refund."""

    status: OperationStatus
    processor_reference: str
    amount: int
    fee: int = 0
    failure_code: str | None = None
    message: str | None = None


class RecordKind(StrEnum):
    AUTHORIZATION = "authorization"
    CAPTURE = "capture"
    VOID = "void"
    REFUND = "refund"


class RecordStatus(StrEnum):
    APPROVED = "approved"
    DECLINED = "declined"
    PENDING_ACTION = "pending_action"  # authorization waiting for a 3-D Secure challenge
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(slots=True, frozen=True)
class ProcessorRecord:
    """One operation as the processor's own books have it (used to resolve and reconcile)."""

    kind: RecordKind
    idempotency_key: str
    processor_reference: str
    status: RecordStatus
    amount: int
    currency: str
    fee: int = 0
    decline_code: str | None = None
    error_code: str | None = None
    parent_reference: str | None = None  # for capture/void/refund: the authorization
    created: int = 0
    extra: dict[str, str] = field(default_factory=dict)


class Connector(Protocol):
    """A payment processor. Implementations are registered in ``connectors.registry``."""

    name: str

    async def authorize(self, request: AuthorizeRequest) -> AuthorizeResult: ...

    async def capture(
        self, processor_reference: str, amount: int, idempotency_key: str
    ) -> OperationResult: ...

    async def void(self, processor_reference: str, idempotency_key: str) -> OperationResult: ...

    async def refund(
        self, processor_reference: str, amount: int, idempotency_key: str
    ) -> OperationResult: ...

    async def lookup(self, idempotency_key: str) -> ProcessorRecord | None:
        """What the processor recorded for this idempotency key, or None if it never saw it."""
        ...

    async def records(self, since: int = 0) -> list[ProcessorRecord]:
        """Every operation the processor recorded since a unix time, for reconciliation."""
        ...


# ----------------------------------------------------------------------------- webhooks


class ProviderEventKind(StrEnum):
    """What a processor's webhook means to SmartPay, whatever the processor calls it."""

    PAYMENT_UPDATED = "payment_updated"  # an operation's outcome changed: look it up, apply
    DISPUTE = "dispute"  # a chargeback or inquiry (stored; not handled yet)
    ACH_RETURN = "ach_return"  # a bank debit came back (stored; not handled yet)
    OTHER = "other"  # anything else the processor sends


@dataclass(slots=True, frozen=True)
class ProviderEvent:
    """One verified webhook from a processor, in neutral terms.

    ``payload`` is the processor's parsed body, kept as evidence; outcomes are never taken
    from it: SmartPay asks the processor (``Connector.lookup``) before applying anything.
    """

    event_id: str  # the processor's own event id: what makes a redelivery a duplicate
    type: str  # the processor's own type name
    kind: ProviderEventKind
    processor_reference: str | None  # the operation the event is about, when it is one
    created: int
    payload: dict[str, Any]


@runtime_checkable
class WebhookVerifier(Protocol):
    """A connector that receives webhooks at ``POST /webhooks/{name}`` implements this."""

    name: str

    def verify_webhook(self, body: bytes, headers: dict[str, str], now: int) -> ProviderEvent:
        """Check the processor's signature over the raw body and parse it. Raises
        ``errors.SignatureInvalid`` when the signature is missing, wrong or too old and
        ``errors.InvalidRequest`` when a signed body cannot be understood."""
        ...
