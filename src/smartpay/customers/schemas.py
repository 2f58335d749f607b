from __future__ import annotations

from typing import Any

from pydantic import Field

from smartpay.kit.pagination import CreatedFilter, ListParams, UnixTime
from smartpay.kit.params import Email, MetadataMixin, StripeParams


class CustomerCreate(StripeParams, MetadataMixin):
    email: Email | None = None
    name: str | None = Field(default=None, max_length=256)
    phone: str | None = Field(default=None, max_length=64)
    description: str | None = Field(default=None, max_length=500)


class CustomerUpdate(CustomerCreate):
    pass


class CustomerList(ListParams, StripeParams):
    email: str | None = Field(default=None, max_length=512)
    created: CreatedFilter | UnixTime | None = None


def render_customer(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "object": "customer",
        "created": row.created,
        "description": row.description,
        "email": row.email,
        "name": row.name,
        "phone": row.phone,
        "metadata": row.metadata or {},
        "livemode": False,
        "balance": 0,
        "currency": None,
        "delinquent": False,
        "invoice_settings": {"default_payment_method": None},
    }


def render_deleted(customer_id: str) -> dict[str, Any]:
    return {"id": customer_id, "object": "customer", "deleted": True}
