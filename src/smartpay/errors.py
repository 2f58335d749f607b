"""The one error hierarchy. Each error knows its HTTP status and Stripe ``type``/``code``.

Rendered as Stripe does: ``{"error": {"type", "code", "decline_code", "message", "param"}}``.
Logical errors (bad input, declines) are never retried; technical errors
(``ProcessorUnavailable``) are retried or failed over by the caller.
"""

from __future__ import annotations

from typing import Any, ClassVar


class SmartPayError(Exception):
    http_status: ClassVar[int] = 500
    error_type: ClassVar[str] = "api_error"
    default_code: ClassVar[str | None] = None

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        decline_code: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.param = param
        self.decline_code = decline_code
        self.extra = extra or {}

    def to_body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.error_type, "message": self.message}
        if self.code:
            error["code"] = self.code
        if self.param:
            error["param"] = self.param
        if self.decline_code:
            error["decline_code"] = self.decline_code
        error.update(self.extra)
        return {"error": error}


class InvalidRequest(SmartPayError):
    """Bad input: missing or malformed parameters. 400."""

    http_status = 400
    error_type = "invalid_request_error"
    default_code = "parameter_invalid"


class MissingParameter(InvalidRequest):
    default_code = "parameter_missing"


class UnknownParameter(InvalidRequest):
    default_code = "parameter_unknown"


class PayloadTooLarge(InvalidRequest):
    http_status = 413
    default_code = "request_too_large"


class ResourceMissing(InvalidRequest):
    """Unknown id, or an id that belongs to another merchant. 404."""

    http_status = 404
    default_code = "resource_missing"


class InvalidState(InvalidRequest):
    """The object's status does not allow this operation. 400, as Stripe answers."""

    default_code = "payment_intent_unexpected_state"


class AuthenticationFailed(SmartPayError):
    http_status = 401
    error_type = "invalid_request_error"
    default_code = "api_key_invalid"


class PermissionDenied(SmartPayError):
    """A valid key that may not do this (a publishable key outside payment_methods)."""

    http_status = 403
    error_type = "invalid_request_error"
    default_code = "secret_key_required"


class IdempotencyError(SmartPayError):
    """Same Idempotency-Key with different parameters. 400."""

    http_status = 400
    error_type = "idempotency_error"
    default_code = "idempotency_key_in_use"


class IdempotencyConflict(SmartPayError):
    """Another request with the same key is still running. 409, safe to retry."""

    http_status = 409
    error_type = "idempotency_error"
    default_code = "idempotency_key_in_use"


class RateLimited(SmartPayError):
    http_status = 429
    error_type = "rate_limit_error"
    default_code = "rate_limit"


class CardError(SmartPayError):
    """The card cannot be used: invalid details or a decline. 402."""

    http_status = 402
    error_type = "card_error"
    default_code = "card_declined"


class ProcessorUnavailable(SmartPayError):
    """A technical failure talking to a processor (timeout, 5xx). Retry or fail over."""

    http_status = 502
    error_type = "api_error"
    default_code = "processor_unavailable"


class InternalError(SmartPayError):
    http_status = 500
    error_type = "api_error"
    default_code = "internal_error"


class OutcomeUnknown(SmartPayError):
    """A processor call whose result we did not learn (timeout, dropped connection after
    sending). The attempt is recorded as unknown and resolved later, never guessed."""

    http_status = 502
    error_type = "api_error"
    default_code = "processor_outcome_unknown"


class SignatureInvalid(InvalidRequest):
    """An inbound processor webhook whose signature does not verify (or is too old). 400."""

    default_code = "signature_invalid"
