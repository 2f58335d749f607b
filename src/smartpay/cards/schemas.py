from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from smartpay.kit.pagination import ListParams
from smartpay.kit.params import MetadataMixin, StripeParams


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CardDetails(_Strict):
    number: str = Field(max_length=30)
    exp_month: int
    exp_year: int
    cvc: str | None = Field(default=None, max_length=8)


class Address(_Strict):
    line1: str | None = Field(default=None, max_length=200)
    line2: str | None = Field(default=None, max_length=200)
    city: str | None = Field(default=None, max_length=200)
    state: str | None = Field(default=None, max_length=200)
    postal_code: str | None = Field(default=None, max_length=20)
    country: str | None = Field(default=None, max_length=2)


class BillingDetails(_Strict):
    name: str | None = Field(default=None, max_length=256)
    email: str | None = Field(default=None, max_length=512)
    phone: str | None = Field(default=None, max_length=64)
    address: Address | None = None


class PaymentMethodCreate(StripeParams, MetadataMixin):
    type: Literal["card"]
    card: CardDetails
    billing_details: BillingDetails | None = None
    customer: str | None = Field(default=None, max_length=255)


class PaymentMethodUpdate(StripeParams, MetadataMixin):
    billing_details: BillingDetails | None = None


class PaymentMethodAttach(StripeParams):
    customer: str = Field(max_length=255)


class PaymentMethodDetach(StripeParams):
    pass


class PaymentMethodList(ListParams, StripeParams):
    customer: str | None = Field(default=None, max_length=255)
    type: Literal["card"] | None = None


def _billing(details: dict[str, Any] | None) -> dict[str, Any]:
    details = details or {}
    address = details.get("address") or {}
    return {
        "name": details.get("name"),
        "email": details.get("email"),
        "phone": details.get("phone"),
        "address": {
            key: address.get(key)
            for key in ("line1", "line2", "city", "state", "postal_code", "country")
        },
    }


def card_summary(row: Any) -> dict[str, Any]:
    """What may be shown of a card: never the number, never the CVC."""
    return {
        "brand": row.brand,
        "last4": row.last4,
        "exp_month": row.exp_month,
        "exp_year": row.exp_year,
        "funding": row.funding,
        "fingerprint": row.fingerprint,
        "country": None,
        "checks": {
            "cvc_check": None,
            "address_line1_check": None,
            "address_postal_code_check": None,
        },
        "networks": {"available": [row.brand], "preferred": None},
        "three_d_secure_usage": {"supported": True},
        "wallet": None,
    }


def render_payment_method(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "object": "payment_method",
        "type": row.type,
        "billing_details": _billing(row.billing_details),
        "card": card_summary(row),
        "created": row.created,
        "customer": row.customer_id,
        "livemode": False,
        "metadata": row.metadata or {},
    }
