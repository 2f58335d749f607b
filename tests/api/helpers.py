"""Small helpers shared by the API tests."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api

DECLINE_CARDS = {
    "4000000000000002": ("card_declined", "generic_decline"),
    "4000000000009995": ("card_declined", "insufficient_funds"),
    "4000000000009987": ("card_declined", "lost_card"),
    "4000000000009979": ("card_declined", "stolen_card"),
    "4000000000000069": ("expired_card", "expired_card"),
    "4000000000000127": ("incorrect_cvc", "incorrect_cvc"),
    "4000000000000119": ("processing_error", "processing_error"),
    "4100000000000019": ("card_declined", "fraudulent"),
}
THREE_D_SECURE_CARD = "4000002760003184"


async def card(
    api: Api, number: str = "4242424242424242", *, key: str | None = None, **extra: str
) -> dict[str, Any]:
    """A card payment method of the test merchant (or of the merchant whose ``key``)."""
    data = {
        "type": "card",
        "card[number]": number,
        "card[exp_month]": "12",
        "card[exp_year]": "2031",
        "card[cvc]": "123",
        **extra,
    }
    response = await api.post("/v1/payment_methods", data, key=key)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def pay(
    api: Api,
    amount: int = 2000,
    number: str = "4242424242424242",
    *,
    key: str | None = None,
    **extra: str,
) -> Any:
    method = await card(api, number, key=key)
    data = {
        "amount": str(amount),
        "currency": "usd",
        "payment_method": method["id"],
        "confirm": "true",
        **extra,
    }
    return await api.post("/v1/payment_intents", data, key=key)
