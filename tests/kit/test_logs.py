"""Log lines: JSON with the request id of the request that caused them, card data
masked whatever the format (spaces, dashes), and events carry the request id too."""

from __future__ import annotations

import json
import logging

import pytest

from smartpay.kit.logs import formatter, install_record_factory
from smartpay.kit.request_context import current_request_id
from tests.api.helpers import pay
from tests.conftest import Api


def _line(log_format: str, message: str, *args: object) -> str:
    install_record_factory()
    record = logging.getLogger("smartpay.test.logs").makeRecord(
        "smartpay.test.logs", logging.WARNING, __file__, 1, message, args, None
    )
    return formatter(log_format).format(record)


def test_json_lines_carry_the_request_id() -> None:
    token = current_request_id.set("req_test123")
    try:
        line = json.loads(_line("json", "charged %s", "pi_1"))
    finally:
        current_request_id.reset(token)
    assert line["message"] == "charged pi_1"
    assert line["request_id"] == "req_test123"
    assert line["level"] == "WARNING"
    assert line["logger"] == "smartpay.test.logs"
    assert "time" in line


def test_outside_a_request_the_id_is_null() -> None:
    assert json.loads(_line("json", "worker round"))["request_id"] is None
    assert "[None]" in _line("text", "worker round")


@pytest.mark.parametrize(
    "pan", ["4242424242424242", "4242 4242 4242 4242", "4242-4242-4242-4242", "3782-822463-10005"]
)
@pytest.mark.parametrize("log_format", ["json", "text"])
def test_card_numbers_are_masked_in_every_format(pan: str, log_format: str) -> None:
    line = _line(log_format, "customer typed %s", pan)
    digits = pan.replace(" ", "").replace("-", "")
    assert pan not in line and digits not in line
    assert f"****{digits[-4:]}" in line


async def test_events_carry_the_request_id_of_the_request_that_raised_them(api: Api) -> None:
    response = await pay(api)
    request_id = response.headers["request-id"]
    events = (await api.get("/v1/events", params={"limit": "100"})).json()["data"]
    raised = [e for e in events if e["type"] == "payment_intent.succeeded"]
    assert raised and raised[0]["request"]["id"] == request_id
