import logging

import pytest

from smartpay.kit.redaction import CardDataFilter, redact_pan


def test_pan_like_numbers_are_masked() -> None:
    text = "card 4242424242424242 and 4000 0000 0000 9995 and 3782-822463-10005"
    cleaned = redact_pan(text)
    assert "4242424242424242" not in cleaned
    assert "4000 0000 0000 9995" not in cleaned
    assert "****4242" in cleaned and "****9995" in cleaned


def test_cvc_fields_are_blanked() -> None:
    assert "123" not in redact_pan("card[cvc]=123&x=1")
    assert "4567" not in redact_pan('{"cvc": "4567"}')


def test_log_filter_rewrites_records(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("smartpay.test.redaction")
    logger.addFilter(CardDataFilter())
    with caplog.at_level(logging.INFO):
        logger.info("charging %s", "4242424242424242")
    assert "4242424242424242" not in caplog.text
    assert "****4242" in caplog.text


def test_installed_redaction_masks_records_from_any_logger() -> None:
    from smartpay.kit.logs import install_record_factory

    install_record_factory()
    record = logging.getLogger("some.library").makeRecord(
        "some.library", logging.ERROR, __file__, 1, "pan=%s", ("4000000000009995",), None
    )
    assert "4000000000009995" not in record.getMessage()
    assert "****9995" in record.getMessage()
