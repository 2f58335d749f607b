"""Money is an integer of minor units plus an ISO 4217 currency. Never a float.

The exponent table lists the currencies SmartPay accepts; zero-decimal (JPY) and
three-decimal (BHD) currencies are first-class.
"""

from __future__ import annotations

from dataclasses import dataclass

from smartpay.errors import InvalidRequest

# ISO 4217 minor-unit exponents. Currencies not listed have two decimals.
_ZERO_DECIMAL = {
    "bif",
    "clp",
    "djf",
    "gnf",
    "jpy",
    "kmf",
    "krw",
    "mga",
    "pyg",
    "rwf",
    "ugx",
    "vnd",
    "vuv",
    "xaf",
    "xof",
    "xpf",
    "isk",
}
_THREE_DECIMAL = {"bhd", "jod", "kwd", "omr", "tnd", "iqd", "lyd"}
_TWO_DECIMAL = {
    "usd",
    "eur",
    "gbp",
    "aud",
    "cad",
    "chf",
    "cny",
    "czk",
    "dkk",
    "hkd",
    "huf",
    "ils",
    "inr",
    "mxn",
    "myr",
    "nok",
    "nzd",
    "php",
    "pln",
    "ron",
    "sek",
    "sgd",
    "thb",
    "try",
    "twd",
    "zar",
    "brl",
    "aed",
    "sar",
    "egp",
    "ngn",
    "kes",
    "cop",
    "pen",
    "ars",
    "idr",
    "bgn",
    "uah",
    "qar",
    "mad",
    "pkr",
    "bdt",
    "lkr",
    "ghs",
}
SUPPORTED_CURRENCIES = frozenset(_ZERO_DECIMAL | _THREE_DECIMAL | _TWO_DECIMAL)

# Stripe's ceiling for one charge is 99,999,999 minor units (eight digits); anything
# above is refused as invalid rather than overflowing a processor's field.
MAX_AMOUNT = 99_999_999
MIN_AMOUNT = 1


def currency_exponent(currency: str) -> int:
    code = currency.lower()
    if code in _ZERO_DECIMAL:
        return 0
    if code in _THREE_DECIMAL:
        return 3
    return 2


def normalize_currency(currency: str, *, param: str = "currency") -> str:
    code = currency.strip().lower()
    if code not in SUPPORTED_CURRENCIES:
        raise InvalidRequest(
            f"Invalid currency: {currency[:8]!r}. Use a lowercase ISO 4217 code SmartPay "
            "supports, such as 'usd', 'eur' or 'jpy'.",
            param=param,
            code="invalid_currency" if len(code) == 3 else "parameter_invalid",
        )
    return code


def check_amount(amount: int, *, param: str = "amount", allow_zero: bool = False) -> int:
    low = 0 if allow_zero else MIN_AMOUNT
    if amount < low or amount > MAX_AMOUNT:
        raise InvalidRequest(
            f"Invalid amount {amount}: it must be a whole number of minor units between "
            f"{low} and {MAX_AMOUNT}.",
            param=param,
            code="amount_too_large" if amount > MAX_AMOUNT else "amount_too_small",
        )
    return amount


@dataclass(frozen=True, slots=True)
class Money:
    amount: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, int) or isinstance(self.amount, bool):
            raise TypeError("Money.amount must be an int of minor units")

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount - other.amount, self.currency)

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValueError(f"currency mismatch: {self.currency} vs {other.currency}")


def format_amount(amount: int, currency: str) -> str:
    """For people: ``2000, "usd"`` is ``"20.00 USD"``, ``500, "jpy"`` is ``"500 JPY"``,
    with thousands separators. Integer arithmetic only: no float rounding."""
    exponent = currency_exponent(currency)
    whole, fraction = divmod(abs(amount), 10**exponent)
    sign = "-" if amount < 0 else ""
    decimals = f".{fraction:0{exponent}d}" if exponent else ""
    return f"{sign}{whole:,}{decimals} {currency.upper()}"


def percentage_fee(amount: int, basis_points: int, fixed: int) -> int:
    """A processor fee: ``amount * basis_points / 10_000`` rounded half up, plus ``fixed``.

    Integer arithmetic only, so the same inputs always give the same cent.
    """
    return (amount * basis_points + 5_000) // 10_000 + fixed
