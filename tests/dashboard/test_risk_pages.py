"""The dashboard's risk pages: the reviews queue (approve and reject through the same
code as /v1/reviews), the risk object and consensus votes on a payment's page, the AI
voters' chart, the live feed from the event stream, and none of another merchant's."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from smartpay.dashboard.service import create_user
from smartpay.decisions.kinds import Level
from smartpay.decisions.service import DecisionService
from smartpay.kit.db import Database
from tests.api.helpers import card, pay
from tests.card_scan import card_data_in_text
from tests.conftest import Api
from tests.decisions.fakes import FixedLocalVoter
from tests.events.websocket import Closed, WebSocketClient

PASSWORD = "correct horse battery"
ORIGIN = "http://testserver"
# Every score goes to the consensus, and the merchant counts as warm at once (as in
# tests/decisions/test_payment_path.py).
EVERY_SCORE = {
    "decisions_grey_zone_low": 0,
    "decisions_grey_zone_high": 1000,
    "risk_warmup_days": 0,
}


@asynccontextmanager
async def _browser(
    api: Api, database: Database, merchant_id: str | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """A logged-in browser (keeping the session cookie) for the merchant's user."""
    merchant_id = merchant_id or api.keys.merchant_id
    email = f"ops-{merchant_id}@example.com".lower()
    async with database.transaction() as session:
        await create_user(session, merchant_id, email, PASSWORD)
    transport = httpx.ASGITransport(app=api.app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as client:
        response = await client.post(
            "/dashboard/login", data={"email": email, "password": PASSWORD}
        )
        assert response.status_code == 303, response.text
        yield client


async def _review_everything(api: Api, key: str | None = None) -> None:
    """A merchant rule holding every payment for review (tests/risk/test_payment_path)."""
    response = await api.post(
        "/v1/risk/rules",
        {
            "action": "review",
            "conditions[0][fact]": "score",
            "conditions[0][operator]": "gte",
            "conditions[0][value]": "0",
        },
        key=key,
    )
    assert response.status_code == 200, response.text


async def _held_payment(api: Api, key: str | None = None, amount: int = 2000) -> dict[str, Any]:
    response = await pay(api, amount, key=key)
    intent: dict[str, Any] = response.json()
    assert intent["status"] == "requires_capture" and intent["review"], intent
    return intent


async def _review_status(api: Api, review_id: str, key: str | None = None) -> str:
    response = await api.get(f"/v1/reviews/{review_id}", key=key)
    assert response.status_code == 200, response.text
    status: str = response.json()["status"]
    return status


def _consensus_panel(api: Api, level: Level, risk: float) -> None:
    """Two scripted voters in place of the shipped ones (tests/decisions/fakes)."""
    service = api.app.state.platform.decisions  # type: ignore[attr-defined]
    assert isinstance(service, DecisionService)
    service._local_voters = [
        FixedLocalVoter("model_a", level, risk),
        FixedLocalVoter("model_b", level, risk),
    ]
    service._remote_voters = []


async def test_new_pages_need_a_login(api: Api) -> None:
    await _review_everything(api)
    intent = await _held_payment(api)
    for path in ("/dashboard/reviews", "/dashboard/decisions", "/dashboard/live"):
        response = await api.client.get(path)
        assert response.status_code == 303 and response.headers["location"] == "/dashboard/login"
    response = await api.client.post(f"/dashboard/reviews/{intent['review']}/approve")
    assert response.status_code == 303 and response.headers["location"] == "/dashboard/login"
    assert await _review_status(api, intent["review"]) == "open"


async def test_the_queue_shows_a_held_payment_and_approving_captures_it(
    api: Api, database: Database
) -> None:
    await _review_everything(api)
    intent = await _held_payment(api, amount=3100)
    review_id = intent["review"]
    async with _browser(api, database) as browser:
        queue = await browser.get("/dashboard/reviews")
        assert queue.status_code == 200
        assert intent["id"] in queue.text and "31.00 USD" in queue.text
        assert f"<strong>{intent['risk']['score']}</strong>" in queue.text
        rule_id = intent["risk"]["reasons"]["rules"][0]
        assert rule_id.startswith("rsk_rule") and rule_id in queue.text  # the rule fired
        assert f'action="/dashboard/reviews/{review_id}/approve"' in queue.text
        assert f'action="/dashboard/reviews/{review_id}/reject"' in queue.text
        assert 'href="/dashboard/reviews"' in queue.text  # in the navigation

        approved = await browser.post(
            f"/dashboard/reviews/{review_id}/approve", headers={"Origin": ORIGIN}
        )
        assert approved.status_code == 303
        assert approved.headers["location"] == f"/dashboard/reviews?closed={review_id}"
        after = await browser.get(approved.headers["location"])
        again = await browser.post(f"/dashboard/reviews/{review_id}/approve")
    # The result is shown, the payment captured exactly as /v1/reviews/{id}/approve does.
    notice = after.text.split('class="notice"', 1)[1].split("</p>", 1)[0]
    assert review_id in notice and "approved" in notice and "succeeded" in notice
    assert f'action="/dashboard/reviews/{review_id}/approve"' not in after.text
    assert "No payment is waiting for a review" in after.text
    assert await _review_status(api, review_id) == "approved"
    captured = (await api.get(f"/v1/payment_intents/{intent['id']}")).json()
    assert captured["status"] == "succeeded" and captured["amount_received"] == 3100
    # A second click is told the review is closed, and nothing moves twice.
    assert again.status_code == 400
    assert "already approved" in again.text
    assert card_data_in_text(after.text) == []


async def test_rejecting_cancels_the_held_payment(api: Api, database: Database) -> None:
    await _review_everything(api)
    intent = await _held_payment(api)
    async with _browser(api, database) as browser:
        rejected = await browser.post(f"/dashboard/reviews/{intent['review']}/reject")
        page = await browser.get(rejected.headers["location"])
    assert rejected.status_code == 303
    assert "rejected" in page.text and "canceled" in page.text
    assert await _review_status(api, intent["review"]) == "rejected"
    canceled = (await api.get(f"/v1/payment_intents/{intent['id']}")).json()
    assert canceled["status"] == "canceled"
    assert canceled["cancellation_reason"] == "fraudulent"


async def test_another_merchants_review_is_neither_shown_nor_actionable(
    api: Api, database: Database
) -> None:
    other_key = api.other.secret_key
    await _review_everything(api, key=other_key)
    foreign = await _held_payment(api, key=other_key)
    async with _browser(api, database) as browser:
        queue = await browser.get("/dashboard/reviews")
        approve = await browser.post(f"/dashboard/reviews/{foreign['review']}/approve")
        reject = await browser.post(f"/dashboard/reviews/{foreign['review']}/reject")
        named = await browser.get("/dashboard/reviews", params={"closed": foreign["review"]})
        payment = await browser.get(f"/dashboard/payments/{foreign['id']}")
    assert foreign["id"] not in queue.text and foreign["review"] not in queue.text
    for response in (approve, reject):
        assert response.status_code == 404
        assert "No such review" in response.text
    assert 'class="notice"' not in named.text and foreign["id"] not in named.text
    assert payment.status_code == 404
    assert await _review_status(api, foreign["review"], key=other_key) == "open"
    still_held = (await api.get(f"/v1/payment_intents/{foreign['id']}", key=other_key)).json()
    assert still_held["status"] == "requires_capture"


async def test_a_review_form_from_another_site_is_refused(api: Api, database: Database) -> None:
    await _review_everything(api)
    intent = await _held_payment(api)
    async with _browser(api, database) as browser:
        forged = await browser.post(
            f"/dashboard/reviews/{intent['review']}/approve",
            headers={"Origin": "https://attacker.example"},
        )
    assert forged.status_code == 403
    assert await _review_status(api, intent["review"]) == "open"


@pytest.mark.settings(**EVERY_SCORE)
async def test_the_payment_page_shows_the_risk_object_and_the_consensus_votes(
    api: Api, database: Database
) -> None:
    assert (await pay(api)).json()["status"] == "succeeded"  # a history: warm merchant
    _consensus_panel(api, Level.FAVOURABLE, 0.02)
    intent = (await pay(api)).json()
    assert intent["status"] == "succeeded", intent
    marker = [r for r in intent["risk"]["reasons"]["rules"] if r.startswith("consensus:")]
    decision_id = marker[0].removeprefix("consensus:")
    decision = (await api.get(f"/v1/decisions/{decision_id}")).json()
    async with _browser(api, database) as browser:
        page = await browser.get(f"/dashboard/payments/{intent['id']}")
    assert page.status_code == 200
    risk_section = page.text.split("<h2>Risk</h2>", 1)[1]
    assert f"<strong>{intent['risk']['score']}</strong>" in risk_section
    assert "allow" in risk_section
    for feature in intent["risk"]["reasons"]["features"]:
        assert f"<code>{feature['feature']}</code>" in risk_section
    assert f"<code>{decision_id}</code>" in risk_section and "approve" in risk_section
    votes = risk_section.split('<table class="votes">', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr>\s*<td>(\w+) <span", votes)
    assert sorted(rows) == ["model_a", "model_b"]
    assert votes.count("90%") == 2  # each scripted vote's confidence
    assert votes.count("<td>fixed</td>") == 2  # and its rationale
    for vote in decision["votes"]:
        assert f"{vote['latency_ms']:,.0f} ms" in votes


@pytest.mark.settings(**EVERY_SCORE)
async def test_a_review_opened_by_the_consensus_shows_its_votes_in_the_queue(
    api: Api, database: Database
) -> None:
    assert (await pay(api)).json()["status"] == "succeeded"
    _consensus_panel(api, Level.REVIEW, 0.4)
    intent = (await pay(api)).json()
    assert intent["status"] == "requires_capture" and intent["review"], intent
    async with _browser(api, database) as browser:
        queue = await browser.get("/dashboard/reviews")
    section = queue.text.split(f'id="{intent["review"]}"', 1)[1].split("</section>", 1)[0]
    assert "AI consensus" in section and "model_a" in section and "model_b" in section


@pytest.mark.settings(**EVERY_SCORE)
async def test_the_decisions_page_draws_each_voters_agreement_and_accuracy(
    api: Api, database: Database
) -> None:
    assert (await pay(api)).json()["status"] == "succeeded"
    _consensus_panel(api, Level.FAVOURABLE, 0.02)
    intents = [(await pay(api)).json() for _ in range(2)]
    decision_ids = [
        rule.removeprefix("consensus:")
        for intent in intents
        for rule in intent["risk"]["reasons"]["rules"]
        if rule.startswith("consensus:")
    ]
    assert len(decision_ids) == 2
    # One verdict learnt later agrees with the voters, one does not: accuracy 50 %.
    for decision_id, truth in zip(decision_ids, ("approve", "decline"), strict=True):
        response = await api.post(
            f"/v1/decisions/{decision_id}/ground_truth", {"ground_truth": truth}
        )
        assert response.status_code == 200, response.text
    voters = {v["voter"]: v for v in (await api.get("/v1/decisions/voters")).json()["data"]}
    async with _browser(api, database) as browser:
        page = await browser.get("/dashboard/decisions")
    async with _browser(api, database, api.other.merchant_id) as other_browser:
        other = await other_browser.get("/dashboard/decisions")
    assert page.status_code == 200 and other.status_code == 200
    chart = page.text.split("Voters: agreement with the outcome and accuracy", 1)[1]
    for name in ("model_a", "model_b"):
        stats = voters[name]
        assert stats["agreement"] == 1.0 and stats["accuracy"] == 0.5
        assert f"<title>{name} agreed with the outcome: 100% of {stats['votes']} votes" in chart
        assert f"<title>{name} accuracy: 50% of 2 with ground truth</title>" in chart
    bars = re.findall(r'<rect x="[\d.]+" y="[\d.]+" width="[\d.]+" height="([\d.]+)" rx', chart)
    heights = [float(h) for h in bars]
    assert len(heights) == 4 and heights[0] == 2 * heights[1]  # agreement twice accuracy
    for intent, decision_id in zip(intents, decision_ids, strict=True):
        assert decision_id in page.text and intent["id"] in page.text
    # The other merchant has no decisions: nothing of these is on its page.
    assert "No data yet" in other.text
    assert all(decision_id not in other.text for decision_id in decision_ids)


async def _live_socket(
    api: Api, cookie: str | None, origin: str | None, since: str | None = None
) -> WebSocketClient:
    params = {"since": since} if since else None
    client = WebSocketClient(api.app, "/dashboard/live/stream", params=params)
    headers: list[tuple[bytes, bytes]] = [(b"host", b"testserver")]
    if cookie is not None:
        headers.append((b"cookie", f"smartpay_dashboard={cookie}".encode()))
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    client.scope["headers"] = headers
    return client


async def test_the_live_feed_streams_the_merchants_events(api: Api, database: Database) -> None:
    await pay(api, amount=1500)
    async with _browser(api, database) as browser:
        page = await browser.get("/dashboard/live")
        cookie = browser.cookies["smartpay_dashboard"]
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy
    assert '<script src="/dashboard/static/live.js"></script>' in page.text
    assert "payment_intent.succeeded" in page.text  # the latest events, rendered at once
    since = re.search(r'data-since="(evt_\w+)"', page.text)
    assert since is not None
    script = await api.client.get("/dashboard/static/live.js")
    assert script.status_code == 200 and "WebSocket" in script.text
    assert (await api.client.get("/dashboard/static/..%2Fservice.py")).status_code == 404

    # As live.js does: resume after the newest event the page showed.
    async with await _live_socket(api, cookie, ORIGIN, since.group(1)) as socket:
        ready = await socket.receive_json()
        assert ready["object"] == "stream.ready"
        intent = (await pay(api, amount=1700)).json()
        # Another merchant's payment in between never reaches this feed.
        other_method = await card(api, key=api.other.secret_key)
        seen: list[dict[str, Any]] = []
        while not any(
            e["type"] == "payment_intent.succeeded" and e["data"]["object"]["id"] == intent["id"]
            for e in seen
        ):
            seen.append(await socket.receive_json())
    assert all(event["object"] == "event" for event in seen)
    subjects = {event["data"]["object"].get("id") for event in seen}
    # Only what happened after the page was drawn: nothing of the first payment again.
    assert all(event["id"] > since.group(1) for event in seen)
    assert other_method["id"] not in subjects
    assert all(card_data_in_text(str(event)) == [] for event in seen)


@pytest.mark.parametrize(
    ("with_cookie", "origin", "code"),
    [
        (False, ORIGIN, 4401),  # not logged in
        (True, "https://attacker.example", 4403),  # another site's page using the cookie
        (True, None, 4403),  # browsers always send an Origin with a WebSocket
    ],
)
async def test_the_live_feed_refuses_strangers(
    api: Api, database: Database, with_cookie: bool, origin: str | None, code: int
) -> None:
    async with _browser(api, database) as browser:
        cookie = browser.cookies["smartpay_dashboard"] if with_cookie else None
    async with await _live_socket(api, cookie, origin) as socket:
        closed = await socket.expect_close()
    assert isinstance(closed, Closed) and closed.code == code
