"""Facts about a payment that a processor's behaviour depends on: the card's issuing
country (from its BIN/IIN) and the amount band.

Routing segments payments by them and the sandbox approves by them, so both read them
here. SmartPay has no licensed BIN table; it knows the layout of Stripe's international
test cards, which carry the issuing country's ISO 3166-1 numeric code in digits 7 to 9
(``4000002760000016`` is German: 276), and Stripe's default test cards, which are US cards.
Any other number's country is unknown (``None``): routing then treats it as its own
"unknown country" segment rather than guessing.
"""

from __future__ import annotations

from typing import Final

from smartpay.kit.money import currency_exponent

# ISO 3166-1 numeric -> alpha-2, for the countries Stripe publishes international test
# cards for (https://docs.stripe.com/testing#international-cards).
_ISO_NUMERIC: Final[dict[str, str]] = {
    "036": "AU",
    "040": "AT",
    "056": "BE",
    "076": "BR",
    "124": "CA",
    "208": "DK",
    "246": "FI",
    "250": "FR",
    "276": "DE",
    "344": "HK",
    "372": "IE",
    "380": "IT",
    "392": "JP",
    "484": "MX",
    "528": "NL",
    "554": "NZ",
    "578": "NO",
    "620": "PT",
    "702": "SG",
    "724": "ES",
    "752": "SE",
    "756": "CH",
    "826": "GB",
    "840": "US",
}
# Stripe's international test cards all start with this prefix.
_TEST_PREFIX: Final = "400000"
# Stripe documents its generic test cards (4242…, 4000 0000 0000 xxxx) as US-issued.
_US_TEST_PREFIXES: Final = ("424242", "400000000", "410000")
# Digits needed for a BIN (ISO/IEC 7812-1:2017 moved to 8; 6 is still what most use).
BIN_LENGTH: Final = 6


def issuer_country(number: str) -> str | None:
    """The issuing country (ISO alpha-2, upper case) of a card number, or None."""
    if number.startswith(_TEST_PREFIX):
        country = _ISO_NUMERIC.get(number[6:9])
        if country is not None:
            return country
    if number.startswith(_US_TEST_PREFIXES):
        return "US"
    return None


def bin_of(number: str, length: int = BIN_LENGTH) -> str:
    """The first ``length`` digits: enough to route on, never enough to identify a card."""
    return number[:length]


# Amount bands in major units of the payment's own currency (no FX: a band is a coarse
# segment, and FX rates would make a payment's segment change from day to day). The cut
# points follow the usual card-not-present split: under 20 is a low-value basket where
# issuers decline least, 200 and over is where their fraud models start to bite.
SMALL_BELOW_MAJOR: Final = 20
LARGE_FROM_MAJOR: Final = 200
AMOUNT_BANDS: Final = ("small", "medium", "large")


def amount_band(amount: int, currency: str) -> str:
    """``small``, ``medium`` or ``large`` for an amount in minor units of ``currency``."""
    unit = 10 ** currency_exponent(currency)
    if amount < SMALL_BELOW_MAJOR * unit:
        return "small"
    if amount < LARGE_FROM_MAJOR * unit:
        return "medium"
    return "large"
