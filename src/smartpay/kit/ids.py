"""Prefixed, time-sortable object ids (``pi_…``, ``pm_…``).

After the prefix, 11 characters encode microseconds since the epoch and 13 are random,
so ids sort in creation order and list pagination orders by id alone. Ids use lowercase
base36 only (0-9, a-z): digits before letters, letters in alphabetical order, which is
how the C collation and the usual locale collations (en_US, ICU) all order them, so
``ORDER BY id`` means the same on every database.
"""

from __future__ import annotations

import re
import secrets
import time

_ID_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
_TIME_CHARS = 11  # 36**11 microseconds is ~4,000 years: no overflow in our lifetime.
_RANDOM_CHARS = 13  # 36**13 ≈ 1.7e20 values per microsecond: collisions are not a concern.
_RANDOM_VALUES = len(_ID_ALPHABET) ** _RANDOM_CHARS
_MICROS = 1_000_000
# What new_id makes: a lowercase prefix (words joined by "_"), "_", then the time and
# random characters.
_NEW_ID = re.compile(rf"^[a-z]+(_[a-z]+)*_[0-9a-z]{{{_TIME_CHARS + _RANDOM_CHARS}}}$")
# Secrets (API keys, webhook secrets) are not sorted, so they use the denser base62.
_SECRET_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _encode(number: int, width: int) -> str:
    base = len(_ID_ALPHABET)
    chars = []
    for _ in range(width):
        number, rem = divmod(number, base)
        chars.append(_ID_ALPHABET[rem])
    return "".join(reversed(chars))


def new_id(prefix: str) -> str:
    micros = time.time_ns() // 1_000
    # One draw for the whole random part (a draw per character was a measurable share of
    # a payment's CPU: ten ids each).
    random_part = _encode(secrets.randbelow(_RANDOM_VALUES), _RANDOM_CHARS)
    return f"{prefix}_{_encode(micros, _TIME_CHARS)}{random_part}"


def new_secret(prefix: str, length: int = 32) -> str:
    return f"{prefix}_" + "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(length))


def id_at(prefix: str, unix_seconds: float) -> str:
    """The greatest id ``new_id(prefix)`` could return at ``unix_seconds``: a cursor that
    sorts after every id created up to that instant and before every later one."""
    micros = int(unix_seconds * _MICROS)
    return f"{prefix}_{_encode(micros, _TIME_CHARS)}{_ID_ALPHABET[-1] * _RANDOM_CHARS}"


def id_time(object_id: str, fallback: float) -> float:
    """When ``new_id`` made ``object_id`` (unix seconds, to the microsecond: finer than a
    ``created`` column), or ``fallback`` for an id of another shape (imported or
    hand-written)."""
    if not _NEW_ID.fullmatch(object_id):
        return fallback
    encoded = object_id.rpartition("_")[2]
    return int(encoded[:_TIME_CHARS], len(_ID_ALPHABET)) / _MICROS
