"""Card checks as Stripe makes them, before a card reaches the vault: number format and
brand, Luhn checksum, expiry and CVC length. Pure functions, no I/O.

Every error is a ``CardError`` with Stripe's ``code`` and ``param``. No message ever
contains the card number or the CVC: they are built from constant text only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from smartpay.errors import CardError

# Separators people type between digit groups; anything else in a number is refused.
_NUMBER_SEPARATORS = re.compile(r"[ \-]")
_ASCII_DIGITS = re.compile(r"[0-9]+")

# Shortest and longest PAN any supported brand issues (ISO/IEC 7812: 8-19, but no brand
# we accept goes below Maestro's 12).
MIN_PAN_LENGTH = 12
MAX_PAN_LENGTH = 19

# Stripe's issuer identification number (``iin``) is the first six digits.
IIN_LENGTH = 6
LAST4_LENGTH = 4

# Amex prints a 4-digit CID on the front; every other brand a 3-digit CVC/CVV on the back.
AMEX_CVC_LENGTH = 4
DEFAULT_CVC_LENGTH = 3

# A card valid for more than 50 years is a typo (cards are issued for 3-5 years).
MAX_YEARS_AHEAD = 50

# A 2-digit expiry year ("27") means 2027, as printed on the card.
TWO_DIGIT_YEAR_BASE = 2000


class Brand:
    """Brand strings as Stripe spells them in ``card.brand``."""

    VISA = "visa"
    MASTERCARD = "mastercard"
    AMEX = "amex"
    DISCOVER = "discover"
    DINERS = "diners"
    JCB = "jcb"
    UNIONPAY = "unionpay"
    MAESTRO = "maestro"


class Funding:
    CREDIT = "credit"
    DEBIT = "debit"
    PREPAID = "prepaid"


@dataclass(frozen=True, slots=True)
class _BrandRule:
    brand: str
    # Inclusive IIN prefix ranges: (low, high) compared on the first len(str(low)) digits.
    ranges: tuple[tuple[int, int], ...]
    lengths: frozenset[int]

    def matches(self, number: str) -> bool:
        for low, high in self.ranges:
            width = len(str(low))
            if len(number) >= width and low <= int(number[:width]) <= high:
                return True
        return False


def _lengths(low: int, high: int) -> frozenset[int]:
    return frozenset(range(low, high + 1))


# Checked in order, first match wins. Longer, more specific ranges come before the short
# ranges they overlap: Discover's co-branded UnionPay range 622126-622925 must win over
# UnionPay's 62, and Maestro's 6-digit 676770/676774 are disjoint from Discover's 65.
_BRAND_RULES: tuple[_BrandRule, ...] = (
    _BrandRule(Brand.AMEX, ((34, 34), (37, 37)), frozenset({15})),
    _BrandRule(Brand.JCB, ((3528, 3589),), _lengths(16, 19)),
    _BrandRule(Brand.DINERS, ((300, 305), (36, 36), (38, 39)), _lengths(14, 19)),
    _BrandRule(
        Brand.DISCOVER,
        ((622126, 622925), (6011, 6011), (644, 649), (65, 65)),
        _lengths(16, 19),
    ),
    _BrandRule(Brand.UNIONPAY, ((62, 62), (81, 81)), _lengths(16, 19)),
    _BrandRule(
        Brand.MAESTRO,
        ((676770, 676770), (676774, 676774), (6304, 6304), (6759, 6759), (50, 50), (56, 58)),
        _lengths(12, 19),
    ),
    _BrandRule(Brand.MASTERCARD, ((2221, 2720), (51, 55)), frozenset({16})),
    _BrandRule(Brand.VISA, ((4, 4),), frozenset({13, 16, 19})),
)

# Funding type of Stripe's documented test cards that are not credit cards
# (https://docs.stripe.com/testing#cards). Real funding comes from the issuer's BIN data,
# which the sandbox does not have, so every other card reports "credit" as Stripe's
# default test cards do.
_TEST_CARD_FUNDING: dict[str, str] = {
    "4000056655665556": Funding.DEBIT,  # Visa (debit)
    "5200828282828210": Funding.DEBIT,  # Mastercard (debit)
    "5105105105105100": Funding.PREPAID,  # Mastercard (prepaid)
}


@dataclass(frozen=True, slots=True)
class ValidatedCard:
    """Card details that passed every check. Number and CVC stay out of ``repr``."""

    number: str = field(repr=False)
    brand: str
    exp_month: int
    exp_year: int
    funding: str
    last4: str
    iin: str = field(repr=False)
    cvc: str | None = field(repr=False)


def luhn_valid(number: str) -> bool:
    """The mod-10 checksum every card number carries in its last digit."""
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = ord(char) - ord("0")
        if position % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def detect_brand(number: str) -> str | None:
    """The brand whose IIN ranges contain this number's prefix, or None."""
    for rule in _BRAND_RULES:
        if rule.matches(number):
            return rule.brand
    return None


def _brand_rule(brand: str) -> _BrandRule:
    return next(rule for rule in _BRAND_RULES if rule.brand == brand)


def normalize_number(number: str) -> str:
    """Digits only: spaces and dashes removed. Raises ``invalid_number`` otherwise."""
    digits = _NUMBER_SEPARATORS.sub("", number)
    if not _ASCII_DIGITS.fullmatch(digits):
        raise CardError(
            "Your card number is invalid: it may contain only digits.",
            code="invalid_number",
            param="number",
        )
    return digits


def _check_number(number: str) -> tuple[str, str]:
    digits = normalize_number(number)
    if not MIN_PAN_LENGTH <= len(digits) <= MAX_PAN_LENGTH:
        raise CardError("Your card number is invalid.", code="invalid_number", param="number")
    brand = detect_brand(digits)
    if brand is None:
        raise CardError(
            "Your card number is invalid: the card brand is not supported.",
            code="invalid_number",
            param="number",
        )
    if len(digits) not in _brand_rule(brand).lengths:
        raise CardError(
            "Your card number is invalid: wrong length for the card brand.",
            code="invalid_number",
            param="number",
        )
    if not luhn_valid(digits):
        raise CardError("Your card number is incorrect.", code="incorrect_number", param="number")
    return digits, brand


def _as_int(value: int | str) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = value.strip()
    if not _ASCII_DIGITS.fullmatch(text):
        return None
    return int(text)


def _check_month(exp_month: int | str) -> int:
    month = _as_int(exp_month)
    if month is None or not 1 <= month <= 12:
        raise CardError(
            "Your card's expiration month is invalid.",
            code="invalid_expiry_month",
            param="exp_month",
        )
    return month


def _check_year(exp_year: int | str) -> int:
    year = _as_int(exp_year)
    if year is not None and 0 <= year <= 99:
        year += TWO_DIGIT_YEAR_BASE
    if year is None or not 1000 <= year <= 9999:
        raise CardError(
            "Your card's expiration year is invalid.",
            code="invalid_expiry_year",
            param="exp_year",
        )
    return year


def _check_expiry(month: int, year: int, today: date) -> None:
    # A card is valid through the last day of its expiry month.
    if (year, month) < (today.year, today.month):
        message = (
            "Your card's expiration year is in the past."
            if year < today.year
            else "Your card's expiration date is in the past."
        )
        raise CardError(message, code="invalid_expiry_year", param="exp_year")
    if year > today.year + MAX_YEARS_AHEAD:
        raise CardError(
            "Your card's expiration year is too far in the future.",
            code="invalid_expiry_year",
            param="exp_year",
        )


def _check_cvc(cvc: str | None, brand: str) -> str | None:
    if cvc is None:
        return None
    text = cvc.strip()
    expected = AMEX_CVC_LENGTH if brand == Brand.AMEX else DEFAULT_CVC_LENGTH
    if not _ASCII_DIGITS.fullmatch(text) or len(text) != expected:
        raise CardError(
            f"Your card's security code is invalid: it must be {expected} digits.",
            code="invalid_cvc",
            param="cvc",
        )
    return text


def validate_card(
    number: str,
    exp_month: int | str,
    exp_year: int | str,
    cvc: str | None,
    *,
    today: date | None = None,
) -> ValidatedCard:
    """Check card details in Stripe's order (number, expiry, CVC) and return them clean.

    Raises ``CardError`` with Stripe's code and param for the first problem found.
    """
    digits, brand = _check_number(number)
    month = _check_month(exp_month)
    year = _check_year(exp_year)
    _check_expiry(month, year, today or date.today())
    clean_cvc = _check_cvc(cvc, brand)
    return ValidatedCard(
        number=digits,
        brand=brand,
        exp_month=month,
        exp_year=year,
        funding=_TEST_CARD_FUNDING.get(digits, Funding.CREDIT),
        last4=digits[-LAST4_LENGTH:],
        iin=digits[:IIN_LENGTH],
        cvc=clean_cvc,
    )
