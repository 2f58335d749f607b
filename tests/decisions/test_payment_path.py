"""Grey-zone confirmations go to the consensus: its outcome allows, holds or blocks the
payment, LLM votes are collected with no transaction open, and the fast path keeps
everything outside the zone, list and merchant-rule decisions, and cold merchants."""

from __future__ import annotations

from typing import Any

import pytest

from smartpay.decisions.kinds import KindSpec, Level
from smartpay.decisions.models import VoteStatus
from smartpay.decisions.service import DecisionService
from smartpay.decisions.voters import DecisionRequest, Vote, abstain
from tests.api.helpers import pay
from tests.conftest import Api
from tests.decisions.fakes import FixedLocalVoter, SlowVoter

# Every score is in the zone, and the merchant counts as warm from its first payment.
EVERY_SCORE = {
    "decisions_grey_zone_low": 0,
    "decisions_grey_zone_high": 1000,
    "risk_warmup_days": 0,
}


def _decisions(api: Api) -> DecisionService:
    service = api.app.state.platform.decisions  # type: ignore[attr-defined]
    assert isinstance(service, DecisionService)
    return service


async def _panel(api: Api, level: Level, risk: float, *, remote: list[Any] | None = None) -> None:
    """Scripted voters, after one payment that gives the merchant a history (with none
    at all, the merchant is cold whatever SMARTPAY_RISK_WARMUP_DAYS says)."""
    first = (await pay(api)).json()
    assert first["status"] == "succeeded", first
    service = _decisions(api)
    service._local_voters = [
        FixedLocalVoter("model_a", level, risk),
        FixedLocalVoter("model_b", level, risk),
    ]
    service._remote_voters = list(remote or [])


async def _decision_of(api: Api, intent: dict[str, Any]) -> dict[str, Any]:
    consensus = [
        rule for rule in intent["risk"]["reasons"]["rules"] if rule.startswith("consensus:")
    ]
    assert len(consensus) == 1, intent["risk"]
    decision_id = consensus[0].split(":", 1)[1]
    response = await api.get(f"/v1/decisions/{decision_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["kind"] == "payment_risk" and body["subject"] == intent["id"]
    return body


@pytest.mark.settings(**EVERY_SCORE)
async def test_an_approving_consensus_lets_the_payment_through(api: Api) -> None:
    await _panel(api, Level.FAVOURABLE, 0.02)
    response = await pay(api)
    intent = response.json()
    assert response.status_code == 200 and intent["status"] == "succeeded", intent
    assert intent["risk"]["decision"] == "allow"
    decision = await _decision_of(api, intent)
    assert decision["outcome"] == "approve"
    assert {vote["voter"] for vote in decision["votes"]} == {"model_a", "model_b"}


@pytest.mark.settings(**EVERY_SCORE)
async def test_a_declining_consensus_blocks_before_any_processor(api: Api) -> None:
    await _panel(api, Level.UNFAVOURABLE, 0.97)
    sandbox = api.app.state.connectors.get("sandbox")  # type: ignore[attr-defined]
    before = len(await sandbox.records())
    response = await pay(api)
    assert response.status_code == 402
    error = response.json()["error"]
    assert error["code"] == "card_declined" and error["decline_code"] == "fraudulent"
    intent = error["payment_intent"]
    assert intent["status"] == "requires_payment_method"
    assert intent["risk"]["decision"] == "block"
    assert (await _decision_of(api, intent))["outcome"] == "decline"
    assert len(await sandbox.records()) == before  # the processor never saw it


@pytest.mark.settings(**EVERY_SCORE)
async def test_a_review_consensus_holds_the_capture_in_one_review(api: Api) -> None:
    await _panel(api, Level.REVIEW, 0.4)
    response = await pay(api)
    intent = response.json()
    assert response.status_code == 200, intent
    assert intent["status"] == "requires_capture"  # authorized, held for the reviewer
    assert intent["risk"]["decision"] == "review"
    reviews = (await api.get("/v1/reviews")).json()["data"]
    assert [review["payment_intent"] for review in reviews] == [intent["id"]]
    assert reviews[0]["id"] == intent["review"]
    decision = await _decision_of(api, intent)
    done = [action["action"] for action in decision["actions"] if action["status"] == "done"]
    assert "hold_for_review" in done


class _RecordingRemoteVoter(SlowVoter):
    """A remote voter that records whether a database transaction was open when asked."""

    def __init__(self, api: Api) -> None:
        super().__init__("llm", 0.0, Level.FAVOURABLE, 0.05)
        self.api = api
        self.open_connections: list[int] = []

    async def vote(self, request: DecisionRequest, spec: KindSpec) -> Vote:
        pool = self.api.app.state.database.engine.pool  # type: ignore[attr-defined]
        self.open_connections.append(pool.checkedout())
        return await super().vote(request, spec)


@pytest.mark.settings(**EVERY_SCORE, decisions_payment_llm_mode="budget")
async def test_llm_votes_are_collected_with_no_transaction_open(api: Api) -> None:
    remote = _RecordingRemoteVoter(api)
    await _panel(api, Level.FAVOURABLE, 0.02, remote=[remote])
    intent = (await pay(api)).json()
    assert intent["status"] == "succeeded", intent
    assert remote.open_connections == [0]  # asked once, between the two phase-one runs
    decision = await _decision_of(api, intent)
    assert {vote["voter"] for vote in decision["votes"]} == {"model_a", "model_b", "llm"}


class _SilentVoter:
    name = "llm"
    model = "fake-remote"

    def __init__(self) -> None:
        self.requests: list[DecisionRequest] = []

    async def vote(self, request: DecisionRequest, spec: KindSpec) -> Vote:
        self.requests.append(request)
        return abstain(self.name, self.model, VoteStatus.ABSTAINED, "advice", 0.0)


@pytest.mark.settings(**EVERY_SCORE, decisions_payment_llm_mode="advisory")
async def test_advisory_llm_votes_come_after_the_payment_and_decide_nothing(api: Api) -> None:
    remote = _SilentVoter()
    await _panel(api, Level.FAVOURABLE, 0.02, remote=[remote])
    intent = (await pay(api)).json()
    assert intent["status"] == "succeeded", intent
    deciding = await _decision_of(api, intent)
    assert {vote["voter"] for vote in deciding["votes"]} == {"model_a", "model_b"}
    await _decisions(api).close()  # waits for the advice still running
    assert [request.subject_id for request in remote.requests] == [intent["id"]]
    listed = (await api.get("/v1/decisions", params={"subject": intent["id"]})).json()["data"]
    assert sorted(item["mode"] for item in listed) == ["advisory", "deciding"]


@pytest.mark.settings(decisions_grey_zone_low=0, decisions_grey_zone_high=1000)
async def test_a_cold_merchant_is_decided_by_the_fast_path(api: Api) -> None:
    """Before SMARTPAY_RISK_WARMUP_DAYS of history the score is not trusted enough to
    put the payment to a vote (nor to block it by the default bands)."""
    await _panel(api, Level.UNFAVOURABLE, 0.97)
    response = await pay(api)
    intent = response.json()
    assert intent.get("status") == "succeeded", intent
    assert not [r for r in intent["risk"]["reasons"]["rules"] if r.startswith("consensus:")]


@pytest.mark.settings(**EVERY_SCORE, decisions_in_payment_path=False)
async def test_the_consensus_can_be_taken_off_the_payment_path(api: Api) -> None:
    await _panel(api, Level.UNFAVOURABLE, 0.97)
    body = (await pay(api)).json()
    intent = body["error"]["payment_intent"] if "error" in body else body
    # The fast path decided (its default score bands, or nothing fired), never a vote.
    assert all(rule.startswith("default_") for rule in intent["risk"]["reasons"]["rules"])
    assert (await api.get("/v1/decisions")).json()["data"] == []


@pytest.mark.settings(**EVERY_SCORE)
async def test_a_merchant_allow_list_is_not_put_to_a_vote(api: Api) -> None:
    await _panel(api, Level.UNFAVOURABLE, 0.97)
    created = await api.post(
        "/v1/risk/lists", {"kind": "bin", "value": "424242", "action": "allow"}
    )
    assert created.status_code == 200, created.text
    intent = (await pay(api)).json()
    assert intent["status"] == "succeeded", intent
    assert intent["risk"]["reasons"]["rules"] == ["allow_list:bin"]
