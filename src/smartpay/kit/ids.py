"""Prefixed, time-sortable object ids (``pi_…``, ``pm_…``).

The first 9 base62 characters encode microseconds since the epoch, the rest is random,
so ids sort in creation order: list pagination orders by id alone.
"""

from __future__ import annotations

import secrets
import time

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_TIME_CHARS = 9  # 62**9 microseconds is ~430 years: enough headroom.
_RANDOM_CHARS = 15  # 62**15 ≈ 7.7e26 values per microsecond: collisions are not a concern.


def _encode(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, rem = divmod(number, 62)
        chars.append(_ALPHABET[rem])
    return "".join(reversed(chars))


def new_id(prefix: str) -> str:
    micros = time.time_ns() // 1_000
    random_part = "".join(secrets.choice(_ALPHABET) for _ in range(_RANDOM_CHARS))
    return f"{prefix}_{_encode(micros, _TIME_CHARS)}{random_part}"


def new_secret(prefix: str, length: int = 32) -> str:
    return f"{prefix}_" + "".join(secrets.choice(_ALPHABET) for _ in range(length))
