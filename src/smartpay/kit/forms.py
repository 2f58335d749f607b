"""Stripe's bracket-nested form encoding, decoded into plain dicts and lists.

``card[number]=4242`` → ``{"card": {"number": "4242"}}``; ``expand[]=a&expand[]=b`` →
``{"expand": ["a", "b"]}``; ``items[0][price]=p`` → ``{"items": [{"price": "p"}]}``.
Values stay strings; Pydantic coerces them. A shape conflict (``a=1&a[b]=2``) is a 400
naming the parameter.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

from smartpay.errors import InvalidRequest

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_SUBKEY = re.compile(r"\[([^\[\]]*)\]")
# Deeper nesting than any Stripe parameter uses is refused rather than recursed into.
MAX_DEPTH = 5
# Stripe accepts list indexes up to a few hundred; more would let one field allocate a lot.
MAX_LIST_INDEX = 1_000


def decode_form(body: str) -> dict[str, Any]:
    try:
        pairs = parse_qsl(body, keep_blank_values=True, strict_parsing=False, errors="strict")
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidRequest(
            "The request body could not be decoded: send UTF-8 form data "
            "(application/x-www-form-urlencoded) or JSON.",
            code="parameter_invalid",
        ) from exc
    return decode_pairs(pairs)


def decode_pairs(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for raw_key, value in pairs:
        match = _KEY.match(raw_key)
        if match is None:
            raise InvalidRequest(f"Invalid parameter name: {raw_key[:60]!r}.", param=raw_key[:60])
        path = [match.group(1), *_SUBKEY.findall(match.group(2))]
        if len(path) > MAX_DEPTH:
            raise InvalidRequest("Parameters are nested too deeply.", param=raw_key[:60])
        _assign(root, path, value, raw_key)
    decoded: dict[str, Any] = _lists_from_indexes(root)
    return decoded


def _assign(root: dict[str, Any], path: list[str], value: str, raw_key: str) -> None:
    node: Any = root
    for index, part in enumerate(path):
        last = index == len(path) - 1
        next_is_append = not last and path[index + 1] == ""
        if part == "":
            if not isinstance(node, list):
                raise InvalidRequest(
                    f"Conflicting parameter shapes for {raw_key!r}.", param=raw_key
                )
            if last:
                node.append(value)
                return
            child: Any = {}
            node.append(child)
            node = child
            continue
        if not isinstance(node, dict):
            raise InvalidRequest(f"Conflicting parameter shapes for {raw_key!r}.", param=raw_key)
        if last:
            if part in node and isinstance(node[part], dict | list):
                raise InvalidRequest(
                    f"Conflicting parameter shapes for {raw_key!r}.", param=raw_key
                )
            node[part] = value
            return
        existing = node.get(part)
        wanted: type = list if next_is_append else dict
        if existing is None:
            existing = wanted()
            node[part] = existing
        elif not isinstance(existing, wanted):
            raise InvalidRequest(f"Conflicting parameter shapes for {raw_key!r}.", param=raw_key)
        node = existing


def _lists_from_indexes(node: Any) -> Any:
    """Turn dicts whose keys are all small integers (``items[0]``) into lists."""
    if isinstance(node, list):
        return [_lists_from_indexes(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _lists_from_indexes(value) for key, value in node.items()}
    if converted and all(key.isdigit() for key in converted):
        indexes = sorted(int(key) for key in converted)
        if indexes[-1] <= MAX_LIST_INDEX:
            return [converted[str(i)] for i in indexes]
    return converted
