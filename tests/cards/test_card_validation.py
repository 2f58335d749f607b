from __future__ import annotations

from datetime import date

import pytest

from smartpay.cards.validation import ValidatedCard, detect_brand, luhn_valid, validate_card
from smartpay.errors import CardError

TODAY = date(2025, 6, 15)


def with_check_digit(body: str) -> str:
    """``body`` plus the Luhn check digit that makes it a valid card number."""
    for digit in "0123456789":
        if luhn_valid(body + digit):
            return body + digit
    raise AssertionError("unreachable")


def pad(prefix: str, length: int) -> str:
    """A Luhn-valid number of ``length`` digits starting with ``prefix``."""
    return with_check_digit(prefix + "0" * (length - len(prefix) - 1))


def valid(number: str, cvc: str | None = "123") -> ValidatedCard:
    return validate_card(number, 12, 2030, cvc, today=TODAY)


def card_error(
    number: str = "4242424242424242",
    exp_month: int | str = 12,
    exp_year: int | str = 2030,
    cvc: str | None = "123",
) -> CardError:
    with pytest.raises(CardError) as info:
        validate_card(number, exp_month, exp_year, cvc, today=TODAY)
    error = info.value
    assert error.http_status == 402
    # Neither the number nor the CVC may ever reach an error message.
    rendered = str(error.to_body())
    digits = number.replace(" ", "").replace("-", "")
    if len(digits) >= 4:
        assert digits not in rendered
        assert digits[-8:] not in rendered
    if cvc and len(cvc) >= 2:
        assert cvc not in error.message
    return error


@pytest.mark.parametrize(
    ("number", "brand"),
    [
        # Stripe's documented test cards.
        ("4242424242424242", "visa"),
        ("4000056655665556", "visa"),
        ("5555555555554444", "mastercard"),
        ("2223003122003222", "mastercard"),
        ("5200828282828210", "mastercard"),
        ("5105105105105100", "mastercard"),
        ("378282246310005", "amex"),
        ("371449635398431", "amex"),
        ("6011111111111117", "discover"),
        ("6011000990139424", "discover"),
        ("3056930009020004", "diners"),
        ("36227206271667", "diners"),
        ("3566002020360505", "jcb"),
        ("6200000000000005", "unionpay"),
        ("6205500000000000004", "unionpay"),
        # Range edges and the other lengths of each brand.
        ("4222222222222", "visa"),
        (pad("4", 19), "visa"),
        (pad("2221", 16), "mastercard"),
        (pad("2720", 16), "mastercard"),
        (pad("51", 16), "mastercard"),
        (pad("55", 16), "mastercard"),
        (pad("644", 16), "discover"),
        (pad("649", 19), "discover"),
        (pad("65", 16), "discover"),
        (pad("622126", 16), "discover"),
        (pad("622925", 19), "discover"),
        (pad("300", 14), "diners"),
        (pad("305", 19), "diners"),
        (pad("38", 14), "diners"),
        (pad("39", 16), "diners"),
        (pad("3528", 16), "jcb"),
        (pad("3589", 19), "jcb"),
        (pad("622125", 16), "unionpay"),
        (pad("622926", 16), "unionpay"),
        (pad("81", 16), "unionpay"),
        (pad("50", 12), "maestro"),
        (pad("56", 16), "maestro"),
        (pad("58", 19), "maestro"),
        (pad("6304", 16), "maestro"),
        (pad("6759", 16), "maestro"),
        (pad("676770", 16), "maestro"),
        (pad("676774", 16), "maestro"),
    ],
)
def test_every_brand_is_detected(number: str, brand: str) -> None:
    cvc = "1234" if brand == "amex" else "123"
    card = valid(number, cvc)
    assert card.brand == brand
    assert detect_brand(number) == brand
    assert card.number == number
    assert card.last4 == number[-4:]
    assert card.iin == number[:6]


@pytest.mark.parametrize(
    ("number", "funding"),
    [
        ("4242424242424242", "credit"),
        ("4000056655665556", "debit"),
        ("5200828282828210", "debit"),
        ("5105105105105100", "prepaid"),
    ],
)
def test_funding(number: str, funding: str) -> None:
    assert valid(number).funding == funding


def test_spaces_and_dashes_are_stripped() -> None:
    card = valid("4242 4242-4242 4242")
    assert card.number == "4242424242424242"
    assert card.last4 == "4242"


def test_string_expiry_and_two_digit_year() -> None:
    card = validate_card("4242424242424242", "07", "30", "123", today=TODAY)
    assert (card.exp_month, card.exp_year) == (7, 2030)
    assert validate_card("4242424242424242", 1, 27, None, today=TODAY).exp_year == 2027


def test_cvc_is_optional() -> None:
    assert valid("4242424242424242", None).cvc is None


def test_amex_takes_a_four_digit_cvc() -> None:
    assert valid("378282246310005", "1234").cvc == "1234"
    assert card_error("378282246310005", cvc="123").code == "invalid_cvc"


def test_repr_hides_number_and_cvc() -> None:
    card = valid("4242424242424242", "987")
    assert "4242424242424242" not in repr(card)
    assert "987" not in repr(card)
    assert "424242" not in repr(card)


@pytest.mark.parametrize(
    "number",
    [
        "4242 4242 4242 424a",
        "4242424242424242.",
        "",
        "４２４２４２４２４２４２４２４２",  # full-width digits are not ASCII digits
        "4242",
        "42424242424",  # 11 digits
        pad("4", 20),  # 20 digits
        pad("4", 15),  # Visa has 13, 16 or 19 digits
        pad("37", 16),  # Amex has 15
        pad("55", 15),  # Mastercard has 16
        pad("6011", 15),  # Discover 16-19
        pad("36", 13),  # Diners 14-19
        pad("3528", 15),  # JCB 16-19
        pad("62", 15),  # UnionPay 16-19
        pad("9", 16),  # no brand starts with 9
        pad("1", 16),
        pad("2220", 16),  # just below the 2-series Mastercard range
        pad("2721", 16),  # just above it
        pad("306", 14),  # just above Diners 300-305
        pad("3527", 16),  # just below JCB
    ],
)
def test_invalid_number(number: str) -> None:
    error = card_error(number)
    assert (error.code, error.param) == ("invalid_number", "number")


def test_luhn_failure_is_incorrect_number() -> None:
    error = card_error("4242424242424241")
    assert (error.code, error.param) == ("incorrect_number", "number")


@pytest.mark.parametrize("month", [0, 13, -1, "ab", "", "1.5", True])
def test_invalid_expiry_month(month: int | str) -> None:
    error = card_error(exp_month=month)
    assert (error.code, error.param) == ("invalid_expiry_month", "exp_month")


@pytest.mark.parametrize("year", ["abc", "", 123, 20301, "-1", "2030.0"])
def test_invalid_expiry_year(year: int | str) -> None:
    error = card_error(exp_year=year)
    assert (error.code, error.param) == ("invalid_expiry_year", "exp_year")


@pytest.mark.parametrize(("month", "year"), [(12, 2024), (5, 2025), (1, 25), (12, 1999)])
def test_expired(month: int, year: int) -> None:
    error = card_error(exp_month=month, exp_year=year)
    assert (error.code, error.param) == ("invalid_expiry_year", "exp_year")
    assert "past" in error.message


def test_current_month_is_not_expired() -> None:
    assert validate_card("4242424242424242", 6, 2025, None, today=TODAY).exp_year == 2025


def test_at_most_fifty_years_ahead() -> None:
    assert validate_card("4242424242424242", 12, 2075, None, today=TODAY).exp_year == 2075
    error = card_error(exp_year=2076)
    assert (error.code, error.param) == ("invalid_expiry_year", "exp_year")


@pytest.mark.parametrize("cvc", ["12", "1234", "12a", "", "abc", "１２３"])
def test_invalid_cvc(cvc: str) -> None:
    error = card_error(cvc=cvc)
    assert (error.code, error.param) == ("invalid_cvc", "cvc")


def test_number_is_checked_before_expiry_and_cvc() -> None:
    error = card_error("4242424242424241", exp_month=13, cvc="1")
    assert error.code == "incorrect_number"
    error = card_error(exp_month=13, cvc="1")
    assert error.code == "invalid_expiry_month"
