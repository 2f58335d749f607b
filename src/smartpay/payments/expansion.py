"""Stripe's ``expand[]``: replace an id field of a response with the object it names.

One level deep (``latest_charge``), or on every item of a list (``data.latest_charge``).
A field that cannot be expanded is a 400 on ``expand``, as Stripe answers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson
from fastapi.responses import Response

from smartpay.cards import service as payment_methods
from smartpay.cards.schemas import render_payment_method
from smartpay.customers import service as customers
from smartpay.customers.schemas import render_customer
from smartpay.errors import InvalidRequest
from smartpay.kit.api import json_bytes
from smartpay.kit.db import Database, Session
from smartpay.ledger import service as ledger
from smartpay.payments import service
from smartpay.payments.schemas import render_charge, render_payment_intent

Loader = Callable[[Session, str, str], Awaitable[dict[str, Any] | None]]


async def _charge(session: Session, merchant_id: str, charge_id: str) -> dict[str, Any]:
    return render_charge(await service.get_charge(session, merchant_id, charge_id))


async def _intent(session: Session, merchant_id: str, intent_id: str) -> dict[str, Any]:
    return render_payment_intent(await service.get_intent(session, merchant_id, intent_id))


async def _customer(session: Session, merchant_id: str, customer_id: str) -> dict[str, Any]:
    return render_customer(await customers.get(session, merchant_id, customer_id))


async def _payment_method(session: Session, merchant_id: str, method_id: str) -> dict[str, Any]:
    return render_payment_method(await payment_methods.get(session, merchant_id, method_id))


async def _balance_transaction(
    session: Session, merchant_id: str, txn_id: str
) -> dict[str, Any] | None:
    return await ledger.get_balance_transaction(session, merchant_id, txn_id)


# Which fields of which object can be expanded, and how to load what they name.
EXPANDABLE: Mapping[str, Mapping[str, Loader]] = {
    "payment_intent": {
        "latest_charge": _charge,
        "customer": _customer,
        "payment_method": _payment_method,
    },
    "charge": {
        "payment_intent": _intent,
        "customer": _customer,
        "payment_method": _payment_method,
        "balance_transaction": _balance_transaction,
    },
    "refund": {
        "charge": _charge,
        "payment_intent": _intent,
        "balance_transaction": _balance_transaction,
    },
}


def check_paths(object_type: str, paths: list[str] | None, *, listed: bool = False) -> None:
    """Refuse unknown expansions before anything runs (a write must not happen and then
    answer 400)."""
    allowed = EXPANDABLE[object_type]
    for path in paths or []:
        field = path.removeprefix("data.") if listed else path
        if field not in allowed:
            raise InvalidRequest(
                f"This property cannot be expanded ({path}). Expandable on {object_type}: "
                f"{', '.join(sorted(allowed))}.",
                param="expand",
            )


async def expand(
    session: Session, merchant_id: str, body: dict[str, Any], paths: list[str] | None
) -> dict[str, Any]:
    """``body`` with each path in ``paths`` expanded (in place, and returned)."""
    for path in paths or []:
        if body.get("object") == "list" and path.startswith("data."):
            for item in body["data"]:
                await _expand_one(session, merchant_id, item, path.removeprefix("data."), path)
        else:
            await _expand_one(session, merchant_id, body, path, path)
    return body


async def _expand_one(
    session: Session, merchant_id: str, obj: dict[str, Any], field: str, path: str
) -> None:
    loader = EXPANDABLE.get(str(obj.get("object")), {}).get(field)
    if loader is None:  # check_paths refused unknown fields before anything ran
        raise InvalidRequest(f"This property cannot be expanded ({path}).", param="expand")
    value = obj.get(field)
    if isinstance(value, str):
        obj[field] = await loader(session, merchant_id, value)


async def expand_response(
    database: Database, merchant_id: str, response: Response, paths: list[str] | None
) -> Response:
    """Expand a successful JSON response of a write (stored idempotent responses keep
    ids; the expansion is applied each time the response is sent)."""
    if not paths or response.status_code != 200:
        return response
    body = orjson.loads(bytes(response.body))
    async with database.transaction() as session:
        body = await expand(session, merchant_id, body, paths)
    return Response(
        content=json_bytes(body),
        status_code=200,
        media_type="application/json",
        headers={k: v for k, v in response.headers.items() if k.lower() == "idempotent-replayed"},
    )
