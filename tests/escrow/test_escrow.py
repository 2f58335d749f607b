"""Escrow: hold, release conditions, partial release, disputes, refunds, ACH payout of
a release; and a property-style run of random operation sequences checking the
invariants after every step."""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest
import sqlalchemy as sa

from smartpay.escrow import tasks
from smartpay.escrow.models import ESCROW_TRANSITIONS, EscrowStatus, escrows
from smartpay.escrow.service import EscrowStateError, check_transition
from smartpay.kit.db import Database
from smartpay.ledger import repository as ledger_repository
from smartpay.ledger import service as ledger
from smartpay.ledger.models import AccountCode
from tests.api.helpers import pay
from tests.conftest import Api


def test_transition_table_exhaustively() -> None:
    for current, target in itertools.product(EscrowStatus, EscrowStatus):
        if target in ESCROW_TRANSITIONS[current]:
            check_transition(current.value, target)
        else:
            with pytest.raises(EscrowStateError):
                check_transition(current.value, target)


async def captured(api: Api, amount: int = 10_000) -> dict[str, Any]:
    response = await pay(api, amount)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_hold_release_dispute_refund(api: Api, database: Database) -> None:
    intent = await captured(api)
    too_much = await api.post("/v1/escrows", {"payment_intent": intent["id"], "amount": "10001"})
    assert too_much.status_code == 400
    escrow = (
        await api.post(
            "/v1/escrows",
            {"payment_intent": intent["id"], "amount": "6000", "release_condition": "completion"},
        )
    ).json()
    assert escrow["status"] == "holding" and escrow["amount_held"] == 6000
    partial = (await api.post(f"/v1/escrows/{escrow['id']}/release", {"amount": "1000"})).json()
    assert partial["status"] == "partially_released" and partial["amount_released"] == 1000
    disputed = (
        await api.post(f"/v1/escrows/{escrow['id']}/dispute", {"reason": "not delivered"})
    ).json()
    assert disputed["status"] == "disputed"
    frozen = await api.post(f"/v1/escrows/{escrow['id']}/release", {"amount": "1000"})
    assert frozen.status_code == 400
    refunded = (
        await api.post(f"/v1/escrows/{escrow['id']}/resolve_dispute", {"outcome": "refund"})
    ).json()
    assert refunded["status"] == "refunded" and refunded["amount_refunded"] == 5000
    charge = (await api.get(f"/v1/charges/{intent['latest_charge']}")).json()
    assert charge["amount_refunded"] == 5000
    again = await api.post(f"/v1/escrows/{escrow['id']}/resolve_dispute", {"outcome": "refund"})
    assert again.status_code == 400
    assert (
        await api.get(f"/v1/escrows/{escrow['id']}", key=api.other.secret_key)
    ).status_code == 404
    async with database.transaction() as session:
        assert await ledger.verify(session) == []


async def test_worker_releases_by_date_and_completion_to_ach(api: Api) -> None:
    platform = api.app.state.platform  # type: ignore[attr-defined]
    intent = await captured(api, 5000)
    provider = (
        await api.post(
            "/v1/payment_methods",
            {
                "type": "us_bank_account",
                "us_bank_account[routing_number]": "110000000",
                "us_bank_account[account_number]": "000123456789",
            },
        )
    ).json()
    escrow = (
        await api.post(
            "/v1/escrows",
            {
                "payment_intent": intent["id"],
                "release_condition": "date_and_completion",
                "release_at": "1000",
                "destination": provider["id"],
            },
        )
    ).json()
    assert escrow["amount_held"] == 5000
    assert (await tasks.run_round(platform, now=2000))["escrows_released"] == 0  # not completed
    confirmed = (await api.post(f"/v1/escrows/{escrow['id']}/confirm_completion")).json()
    # Date passed and completion confirmed: released at once, by an ACH payout.
    assert confirmed["status"] == "released"
    payouts = (await api.get("/v1/payouts")).json()["data"]
    assert (
        len(payouts) == 1 and payouts[0]["amount"] == 5000 and payouts[0]["escrow"] == escrow["id"]
    )
    assert payouts[0]["destination"] == provider["id"]


async def _invariants(database: Database) -> None:
    async with database.transaction() as session:
        assert await ledger.verify(session) == []
        rows = (await session.execute(sa.select(escrows))).all()
        for row in rows:
            assert 0 <= row.amount_released + row.amount_refunded <= row.amount_held
        totals = await ledger_repository.account_totals(session)
        held = sum(
            int(r.credit) - int(r.debit) for r in totals if r.code == AccountCode.ESCROW_HELD
        )
        assert held == sum(r.amount_held - r.amount_released - r.amount_refunded for r in rows)


async def test_random_operation_sequences_keep_the_invariants(api: Api, database: Database) -> None:
    platform = api.app.state.platform  # type: ignore[attr-defined]
    rng = random.Random(8)
    for _ in range(6):
        intent = await captured(api, rng.randint(500, 20_000))
        charge = (await api.get(f"/v1/charges/{intent['latest_charge']}")).json()
        created = await api.post(
            "/v1/escrows",
            {
                "charge": charge["id"],
                "amount": str(rng.randint(1, charge["amount_captured"] + 50)),
                "release_condition": rng.choice(["date", "completion", "manual"]),
                "release_at": "5000",
            },
        )
        await _invariants(database)
        if created.status_code != 200:
            continue
        escrow_id = created.json()["id"]
        for _ in range(8):
            op = rng.choice(
                [
                    "release",
                    "release_all",
                    "confirm",
                    "dispute",
                    "refund",
                    "resolve_release",
                    "worker",
                    "card_refund",
                ]
            )
            if op == "release":
                await api.post(
                    f"/v1/escrows/{escrow_id}/release", {"amount": str(rng.randint(1, 3000))}
                )
            elif op == "release_all":
                await api.post(f"/v1/escrows/{escrow_id}/release")
            elif op == "confirm":
                await api.post(f"/v1/escrows/{escrow_id}/confirm_completion")
            elif op == "dispute":
                await api.post(f"/v1/escrows/{escrow_id}/dispute")
            elif op == "refund":
                await api.post(f"/v1/escrows/{escrow_id}/resolve_dispute", {"outcome": "refund"})
            elif op == "resolve_release":
                await api.post(f"/v1/escrows/{escrow_id}/resolve_dispute", {"outcome": "release"})
            elif op == "worker":
                await tasks.run_round(platform, now=rng.choice([1000, 6000]))
            else:
                await api.post(
                    "/v1/refunds", {"charge": charge["id"], "amount": str(rng.randint(1, 2000))}
                )
            await _invariants(database)
            escrow = (await api.get(f"/v1/escrows/{escrow_id}")).json()
            current = (await api.get(f"/v1/charges/{charge['id']}")).json()
            assert escrow["amount_held"] <= current["amount_captured"]
