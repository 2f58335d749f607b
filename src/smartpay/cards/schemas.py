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


class UsBankAccountDetails(_Strict):
    routing_number: str = Field(max_length=9)
    account_number: str = Field(max_length=17)
    account_type: Literal["checking", "savings"] = "checking"
    account_holder_type: Literal["individual", "company"] = "individual"


class MandateData(_Strict):
    """SmartPay extension: the customer's authorization of ACH debits (NACHA requires
    the originator to keep it): the SEC code it was given under, its text and time."""

    sec_code: Literal["PPD", "CCD", "WEB"] | None = None
    text: str = Field(min_length=1, max_length=5000)
    accepted_at: int | None = Field(default=None, ge=0, le=2**53)
    type: Literal["online", "offline"] = "online"
    ip_address: str | None = Field(default=None, max_length=64)
    user_agent: str | None = Field(default=None, max_length=500)


class PaymentMethodCreate(StripeParams, MetadataMixin):
    type: Literal["card", "us_bank_account"]
    card: CardDetails | None = None
    us_bank_account: UsBankAccountDetails | None = None
    mandate_data: MandateData | None = None
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
    type: Literal["card", "us_bank_account"] | None = None


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


def us_bank_account_summary(row: Any) -> dict[str, Any]:
    """Stripe's ``us_bank_account`` hash: never the account number, only its last 4."""
    return {
        "account_holder_type": row.account_holder_type,
        "account_type": row.account_type,
        "bank_name": row.bank_name,
        "financial_connections_account": None,
        "fingerprint": row.fingerprint,
        "last4": row.last4,
        "networks": {"preferred": "ach", "supported": ["ach"]},
        "routing_number": row.routing_number,
        "status_details": {},
        "mandate": row.mandate_id,  # SmartPay extension: the recorded authorization
    }


def render_payment_method(row: Any) -> dict[str, Any]:
    details: dict[str, Any] = (
        {"us_bank_account": us_bank_account_summary(row)}
        if row.type == "us_bank_account"
        else {"card": card_summary(row)}
    )
    return {
        "id": row.id,
        "object": "payment_method",
        "type": row.type,
        "billing_details": _billing(row.billing_details),
        **details,
        "created": row.created,
        "customer": row.customer_id,
        "livemode": False,
        "metadata": row.metadata or {},
    }
