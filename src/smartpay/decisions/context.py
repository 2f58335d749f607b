"""The context snapshot a decision is taken on: what the asking domain tells the voters,
stored with the decision and quoted to the LLMs.

Card data must never enter it. The domain builds it from masked fields (brand, last4,
country, amount, descriptions), and this module is the guard behind that rule: keys that
name card data are dropped, any digit run shaped like a card number is masked in every
string (``****4242``), and values are reduced to JSON scalars, lists and objects of
bounded size, so a snapshot is safe to log, store and send to a model.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from smartpay.kit.redaction import redact_pan

# Keys whose value is card data whatever it looks like: dropped, not masked.
_CARD_KEYS = re.compile(
    r"(?i)^(number|card_?number|pan|cvc|cvv|cvc2|cvv2|cid|security_?code|exp(iry)?_?"
    r"(month|year|date)?|track_?[12]?|pin)$"
)
# A security code written in prose ("cvc 123", "CVV: 1234"): redact_pan masks only
# field-shaped ones (cvc=123), and merchant text is prose.
_CVC_IN_TEXT = re.compile(r"(?i)\b(cvc2?|cvv2?|cid|security code)(\W{0,3})\d{3,4}\b")
# Sizes that keep one snapshot small enough for a prompt and a row.
MAX_DEPTH = 4
MAX_ITEMS = 50
MAX_STRING = 500
DROPPED = "[removed]"
# Card numbers have 12 to 19 digits (redaction.redact_pan's range).
_SMALLEST_PAN_LIKE = 10**11

JsonValue = None | bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"]


def snapshot(context: Mapping[str, Any]) -> dict[str, JsonValue]:
    """A masked, bounded, JSON-safe copy of ``context``."""
    cleaned = _clean(context, 0)
    assert isinstance(cleaned, dict)
    return cleaned


def _clean(value: Any, depth: int) -> JsonValue:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        # A 12+ digit integer could be a card number sent as a number: masked text.
        return value if abs(value) < _SMALLEST_PAN_LIKE else redact_pan(str(value))
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return _mask_text(value[: MAX_STRING * 2])[:MAX_STRING]
    if depth >= MAX_DEPTH:
        return DROPPED
    if isinstance(value, Mapping):
        out: dict[str, JsonValue] = {}
        for key, item in list(value.items())[:MAX_ITEMS]:
            name = redact_pan(str(key))[:64]
            if _CARD_KEYS.match(name):
                continue
            out[name] = _clean(item, depth + 1)
        return out
    if isinstance(value, list | tuple):
        return [_clean(item, depth + 1) for item in value[:MAX_ITEMS]]
    # Anything else (a Decimal, an object) as masked text.
    return _mask_text(str(value))[:MAX_STRING]


def _mask_text(text: str) -> str:
    return _CVC_IN_TEXT.sub(lambda match: f"{match.group(1)}{match.group(2)}***", redact_pan(text))
