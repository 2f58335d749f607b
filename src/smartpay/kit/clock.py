"""Time comes from one place so tests can control it."""

from __future__ import annotations

import time


def now() -> int:
    """Unix seconds, as Stripe's ``created`` fields."""
    return int(time.time())
