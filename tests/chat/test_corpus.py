"""The whole dialogue corpus through ``POST /chat``: every well-formed conversation
completes, every cancel cancels, nothing else does; then the database, the captured
logs and every prompt sent to the (fake) model are scanned for every card number and
CVC that was typed."""

from __future__ import annotations

import logging
import re

import pytest
import sqlalchemy as sa

from smartpay.kit.db import Database, metadata
from smartpay.models_registry import import_all_models
from tests.card_scan import card_data_in_database, card_data_in_text
from tests.chat.corpus import AMEX_CVCS, CARDS_USED, CVCS, Conversation, corpus
from tests.chat.helpers import RecordingLlm, cvc_pattern, open_session, say
from tests.conftest import Api

CONVERSATIONS = corpus()
TERMINAL = {"completed", "cancelled", "error"}


def test_corpus_is_large_and_covers_every_ending() -> None:
    assert len(CONVERSATIONS) >= 150
    endings = {c.expected for c in CONVERSATIONS}
    assert endings == TERMINAL
    assert len({c.label for c in CONVERSATIONS}) == len(CONVERSATIONS)


async def _run(api: Api, conversation: Conversation) -> tuple[str, list[str], dict[str, object]]:
    session = await open_session(api, conversation.amount)
    session_id = session["id"]
    statuses = []
    last: dict[str, object] = {}
    for message in conversation.messages:
        response = await say(api, session_id, message)
        assert response.status_code == 200, (conversation.label, message, response.text)
        last = response.json()
        statuses.append(str(last["status"]))
    return session_id, statuses, last


async def _stored_text(database: Database) -> list[str]:
    import_all_models()
    texts: list[str] = []
    async with database.engine.connect() as conn:
        for table in metadata.sorted_tables:
            try:
                rows = (await conn.execute(sa.select(table))).all()
            except sa.exc.DBAPIError:
                await conn.rollback()
                continue
            texts.extend(str(value) for row in rows for value in row)
    return texts


@pytest.mark.settings(chat_rate_limit_per_second=1_000_000)
async def test_dialogue_corpus_outcomes_and_no_card_data_anywhere(
    api: Api, database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    llm = RecordingLlm()
    api.app.state.chat.llm = llm  # type: ignore[attr-defined]
    caplog.set_level(logging.DEBUG)
    wrong: list[tuple[str, object, object]] = []
    for conversation in CONVERSATIONS:
        session_id, statuses, last = await _run(api, conversation)
        final = statuses[-1]
        # Nothing ends before its last message, and it ends the way it must.
        early = [s for s in statuses[:-1] if s in TERMINAL]
        if final != conversation.expected or early:
            wrong.append((conversation.label, statuses, last.get("response")))
            continue
        if conversation.outcome is not None:
            described = (await api.client.get(f"/session/{session_id}")).json()
            if described["collected"]["outcome"] != conversation.outcome:
                wrong.append((conversation.label, "outcome", described["collected"]))
            if conversation.outcome == "requires_action":
                assert str(last["nextActionUrl"]).startswith("/sandbox/3ds/")
    assert wrong == []

    secrets = list(CARDS_USED)
    cvcs = [*CVCS, *AMEX_CVCS]
    assert await card_data_in_database(database, secrets) == []
    stored = await _stored_text(database)
    for cvc in cvcs:
        pattern = cvc_pattern(cvc)
        assert not [t for t in stored if pattern.search(t)], f"CVC …{cvc[-1]} stored"
    logs = [record.getMessage() for record in caplog.records]
    assert any("•••• 4242" in line for line in logs)  # the masked text is what is logged
    for line in logs:
        assert card_data_in_text(line, secrets) == []
        assert not [c for c in cvcs if cvc_pattern(c).search(line)], line[:120]
    assert llm.prompts, "the model was consulted"
    for prompt in llm.prompts:
        assert card_data_in_text(prompt, secrets) == []
        assert not re.search(r"\d{8,}", prompt)
        assert not [c for c in cvcs if cvc_pattern(c).search(prompt)], prompt[-200:]


async def test_the_scan_itself_finds_a_planted_cvc_and_pan() -> None:
    """The scan above can fail: it sees card data when there is some."""
    assert card_data_in_text("card 4242424242424242 ok", CARDS_USED)
    assert cvc_pattern("737").search("the code is 737.")
    assert not cvc_pattern("737").search("created 1733737123 id pi_0x737ab")
    assert not cvc_pattern("7373").search("at 1796175076.7373, decay 0.7373)")
    assert cvc_pattern("7373").search("my code: 7373.")
    assert cvc_pattern("737").search('{"text": "737"}')
