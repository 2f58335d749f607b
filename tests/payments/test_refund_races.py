"""Concurrent refunds of one charge never exceed what was captured."""

import asyncio

from tests.api.helpers import pay
from tests.conftest import Api


async def test_concurrent_partial_refunds_stop_at_the_captured_amount(api: Api) -> None:
    intent = (await pay(api, amount=10_000)).json()
    assert intent["status"] == "succeeded"

    async def refund() -> int:
        response = await api.post("/v1/refunds", {"payment_intent": intent["id"], "amount": "4000"})
        return response.status_code

    statuses = await asyncio.gather(*(refund() for _ in range(6)))
    assert sorted(statuses) == [200, 200, 400, 400, 400, 400]
    charge = (await api.get(f"/v1/charges/{intent['latest_charge']}")).json()
    assert charge["amount_refunded"] == 8000
    balance = (await api.get("/v1/balance")).json()
    assert balance["available"] == [{"amount": -8000, "currency": "usd"}]
