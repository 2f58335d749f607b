"""Token buckets per key (client IP, chat session): ``rate`` requests a second on
average, bursts of up to ``rate``. In-process: each API process counts its own."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

# Buckets kept at most; when full, the ones idle long enough to be full again go first.
MAX_BUCKETS = 100_000


class RateLimiter:
    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.capacity = rate
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def retry_after(self, key: str) -> int | None:
        """Take one token for ``key``: None if allowed, else whole seconds to wait."""
        at = self._clock()
        tokens, last = self._buckets.get(key, (self.capacity, at))
        tokens = min(self.capacity, tokens + (at - last) * self.rate)
        if tokens >= 1:
            if len(self._buckets) >= MAX_BUCKETS and key not in self._buckets:
                self._evict(at)
            self._buckets[key] = (tokens - 1, at)
            return None
        self._buckets[key] = (tokens, at)
        return max(1, math.ceil((1 - tokens) / self.rate))

    def _evict(self, at: float) -> None:
        refill_seconds = self.capacity / self.rate
        self._buckets = {k: v for k, v in self._buckets.items() if at - v[1] < refill_seconds}
        if len(self._buckets) >= MAX_BUCKETS:
            self._buckets.clear()
