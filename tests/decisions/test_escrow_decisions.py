"""Escrow release goes through the consensus: a favourable decision releases the funds,
an unfavourable one freezes them (disputed), and re-running a decision acts once."""

from __future__ import annotations

from typing import Any

from smartpay.decisions.kinds import Level
from smartpay.decisions.service import DecisionService
from tests.api.helpers import pay
from tests.conftest import Api
from tests.decisions.fakes import FixedLocalVoter


async def _escrow(api: Api) -> dict[str, Any]:
    intent = (await pay(api, 10_000)).json()
    assert intent["status"] == "succeeded", intent
    created = await api.post(
        "/v1/escrows",
        {"payment_intent": intent["id"], "amount": "6000", "release_condition": "manual"},
    )
    assert created.status_code == 200, created.text
    return created.json()  # type: ignore[no-any-return]


def _panel(api: Api, level: Level, risk: float) -> None:
    service = api.app.state.decisions  # type: ignore[attr-defined]
    assert isinstance(service, DecisionService)
    service._local_voters = [FixedLocalVoter("a", level, risk), FixedLocalVoter("b", level, risk)]
    service._remote_voters = []


async def _decide(api: Api, escrow: dict[str, Any], key: str) -> dict[str, Any]:
    response = await api.post(
        "/v1/decisions",
        {
            "kind": "escrow_release",
            "subject": escrow["id"],
            "amount": "6000",
            "currency": "usd",
            "request_key": key,
            "context[reason]": "delivery confirmed by the carrier",
        },
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_a_favourable_consensus_releases_the_escrow_once(api: Api) -> None:
    escrow = await _escrow(api)
    _panel(api, Level.FAVOURABLE, 0.02)
    decision = await _decide(api, escrow, "release-1")
    assert decision["outcome"] == "release"
    assert {a["action"]: a["status"] for a in decision["actions"]}["release_escrow"] == "done"
    released = (await api.get(f"/v1/escrows/{escrow['id']}")).json()
    assert released["status"] == "released" and released["amount_released"] == 6000
    # A second decision on the same escrow decides again but never releases twice.
    again = await _decide(api, escrow, "release-2")
    assert again["id"] != decision["id"]
    # Its actions are the first decision's, done once: nothing ran again.
    assert [a["id"] for a in again["actions"]] == [a["id"] for a in decision["actions"]]
    assert {a["decision"] for a in again["actions"]} == {decision["id"]}
    after = (await api.get(f"/v1/escrows/{escrow['id']}")).json()
    assert after["amount_released"] == 6000


async def test_an_unfavourable_consensus_freezes_the_escrow(api: Api) -> None:
    escrow = await _escrow(api)
    _panel(api, Level.UNFAVOURABLE, 0.95)
    decision = await _decide(api, escrow, "freeze-1")
    assert decision["outcome"] == "freeze"
    frozen = (await api.get(f"/v1/escrows/{escrow['id']}")).json()
    assert frozen["status"] == "disputed"
    refused = await api.post(f"/v1/escrows/{escrow['id']}/release", {"amount": "1000"})
    assert refused.status_code == 400
