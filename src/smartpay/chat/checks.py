"""The chat's card checks, one field at a time, all made by ``cards.validation``.

The chat collects a card field by field, but the one validator checks a whole card in
Stripe's order (number, expiry, CVC). To check one field alone, the others are filled
with neutral values that always pass, so the first (and only) error the validator can
raise is about the field in question. There is no second set of card rules here.

Each check returns ``None`` when the field is fine, or the reason to show the customer:
the validator's own text, reworded where a plainer sentence helps. No reason ever
contains the number or the CVC (the validator builds its messages from constant text).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from smartpay.cards.validation import (
    AMEX_CVC_LENGTH,
    LAST4_LENGTH,
    TWO_DIGIT_YEAR_BASE,
    Brand,
    detect_brand,
    validate_card,
)
from smartpay.errors import CardError

# Luhn-valid placeholder numbers that reach the validator's later checks. They are
# public test numbers, used only as arguments, never stored or shown.
_PLACEHOLDER_NUMBER = "4111111111111111"  # Visa: 3-digit CVC
_PLACEHOLDER_AMEX_NUMBER = "340000000000009"  # Amex: 4-digit CVC
# An expiry that is always in the future (and within the validator's 50-year window).
_PLACEHOLDER_YEARS_AHEAD = 1
_PLACEHOLDER_MONTH = 12

BRAND_NAMES = {
    Brand.VISA: "Visa",
    Brand.MASTERCARD: "Mastercard",
    Brand.AMEX: "American Express",
    Brand.DISCOVER: "Discover",
    Brand.DINERS: "Diners Club",
    Brand.JCB: "JCB",
    Brand.UNIONPAY: "UnionPay",
    Brand.MAESTRO: "Maestro",
}

# The validator's codes and messages, in the chat's plainer words. Anything not listed
# is shown as the validator wrote it.
_PLAIN_REASONS = {
    "incorrect_number": "That card number fails the Luhn check (the last digit doesn't "
    "match the others), so a digit is probably mistyped.",
    "Your card number is invalid: the card brand is not supported.": "That doesn't look "
    "like a card number from any brand I know.",
    "Your card number is invalid: wrong length for the card brand.": "That card number has "
    "the wrong number of digits for its brand.",
    "Your card number is invalid.": "A card number has 12 to 19 digits; that one doesn't.",
    "Your card's expiration year is in the past.": "That card has expired: the year is in "
    "the past.",
    "Your card's expiration date is in the past.": "That card has expired: the month is "
    "already over.",
    "Your card's expiration month is invalid.": "The month must be between 01 and 12.",
}


def _reason(error: CardError) -> str:
    return _PLAIN_REASONS.get(error.code or "") or _PLAIN_REASONS.get(error.message, error.message)


def _future_year(today: date | None) -> int:
    return (today or date.today()).year + _PLACEHOLDER_YEARS_AHEAD


@dataclass(frozen=True, slots=True)
class CheckedNumber:
    """A card number that passed, with what may be kept of it: brand and last four."""

    number: str
    brand: str
    last4: str


def check_number(number: str, accepted_brands: frozenset[str] = frozenset()) -> CheckedNumber | str:
    """The clean number, or why it is refused. ``accepted_brands`` empty: every brand the
    validator knows is accepted."""
    try:
        card = validate_card(number, _PLACEHOLDER_MONTH, _future_year(None), None)
    except CardError as error:
        return _reason(error)
    if accepted_brands and card.brand not in accepted_brands:
        names = ", ".join(BRAND_NAMES.get(b, b) for b in sorted(accepted_brands))
        brand = BRAND_NAMES.get(card.brand, card.brand)
        return f"Sorry, {brand} cards aren't accepted here (accepted: {names})."
    return CheckedNumber(card.number, card.brand, card.number[-LAST4_LENGTH:])


def full_year(year: int) -> int:
    return year + TWO_DIGIT_YEAR_BASE if 0 <= year <= 99 else year


def check_expiry(month: int, year: int, *, today: date | None = None) -> str | None:
    try:
        validate_card(_PLACEHOLDER_NUMBER, month, year, None, today=today)
    except CardError as error:
        return _reason(error)
    return None


def check_cvc(cvc: str, brand: str | None) -> str | None:
    """``brand`` None: the card is not known yet, so either length passes for now."""
    if brand is None:
        lengths_ok = len(cvc) in (3, AMEX_CVC_LENGTH)
        return None if lengths_ok and cvc.isdigit() else "The security code is 3 or 4 digits."
    number = _PLACEHOLDER_AMEX_NUMBER if brand == Brand.AMEX else _PLACEHOLDER_NUMBER
    try:
        validate_card(number, _PLACEHOLDER_MONTH, _future_year(None), cvc)
    except CardError as error:
        reason = _reason(error)
        if brand == Brand.AMEX:
            return reason.rstrip(".") + " for American Express (the 4 digits on the front)."
        return reason.rstrip(".") + " (the 3 digits on the back of the card)."
    return None


def brand_of(number: str) -> str | None:
    return detect_brand(number)
