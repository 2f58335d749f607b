import pytest

from smartpay.errors import InvalidRequest
from smartpay.kit.forms import decode_form


def test_flat_and_nested_fields() -> None:
    body = "amount=2000&currency=usd&card[number]=4242&metadata[order]=42&metadata[x]="
    assert decode_form(body) == {
        "amount": "2000",
        "currency": "usd",
        "card": {"number": "4242"},
        "metadata": {"order": "42", "x": ""},
    }


def test_appended_lists_and_indexed_lists() -> None:
    assert decode_form("expand[]=a&expand[]=b") == {"expand": ["a", "b"]}
    assert decode_form("items[1][price]=p2&items[0][price]=p1") == {
        "items": [{"price": "p1"}, {"price": "p2"}]
    }


def test_deep_nesting() -> None:
    body = "billing_details[address][city]=Paris&billing_details[name]=Jo"
    assert decode_form(body) == {"billing_details": {"address": {"city": "Paris"}, "name": "Jo"}}


@pytest.mark.parametrize("body", ["a=1&a[b]=2", "a[b]=2&a=1", "a[]=1&a[b]=2"])
def test_shape_conflicts_are_400_with_param(body: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        decode_form(body)
    assert info.value.param


def test_too_deep_is_refused() -> None:
    with pytest.raises(InvalidRequest):
        decode_form("a[b][c][d][e][f]=1")


def test_percent_encoded_invalid_utf8_is_400() -> None:
    with pytest.raises(InvalidRequest):
        decode_form("name=%ff%fe")
