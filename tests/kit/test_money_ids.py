import pytest

from smartpay.errors import InvalidRequest
from smartpay.kit.ids import new_id
from smartpay.kit.money import (
    MAX_AMOUNT,
    Money,
    check_amount,
    currency_exponent,
    normalize_currency,
    percentage_fee,
)


def test_currency_exponents() -> None:
    assert currency_exponent("usd") == 2
    assert currency_exponent("JPY") == 0
    assert currency_exponent("bhd") == 3


def test_unknown_currency_is_400_on_currency() -> None:
    with pytest.raises(InvalidRequest) as info:
        normalize_currency("xyz")
    assert info.value.param == "currency"
    assert normalize_currency("EUR") == "eur"


@pytest.mark.parametrize("amount", [0, -1, MAX_AMOUNT + 1, 10**20])
def test_amount_bounds(amount: int) -> None:
    with pytest.raises(InvalidRequest) as info:
        check_amount(amount)
    assert info.value.param == "amount"


def test_fee_is_integer_and_rounds_half_up() -> None:
    assert percentage_fee(10_000, 290, 30) == 320
    assert percentage_fee(50, 290, 30) == 31  # 1.45 rounds to 1
    assert percentage_fee(100, 250, 0) == 3  # 2.5 rounds up


def test_money_refuses_floats_and_mixed_currencies() -> None:
    with pytest.raises(TypeError):
        Money(1.5, "usd")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Money(1, "usd") + Money(1, "eur")


def test_ids_are_prefixed_and_sort_by_creation() -> None:
    ids = [new_id("pi") for _ in range(200)]
    assert all(i.startswith("pi_") and len(i) == 27 for i in ids)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_amounts_are_formatted_for_people_in_each_currency_exponent() -> None:
    from smartpay.kit.money import format_amount

    assert format_amount(2000, "usd") == "20.00 USD"
    assert format_amount(123456789, "usd") == "1,234,567.89 USD"
    assert format_amount(500, "jpy") == "500 JPY"
    assert format_amount(1234, "bhd") == "1.234 BHD"
    assert format_amount(-5, "eur") == "-0.05 EUR"
