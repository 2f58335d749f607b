"""Where a CVC waits for the first authorization of its payment method, then vanishes.

Card networks forbid keeping the CVC after authorization (PCI DSS 3.2.2), so it is
never written to the database, a file or a log. ``take`` returns it and deletes it in
one step: whoever authorizes first gets it, nobody gets it twice. Unused CVCs expire.

- ``MemoryCvcStore``: in-process, for a single API process (the default).
- ``RedisCvcStore``: shared by several processes; the value is sealed with the vault's
  envelope encryption before it reaches Redis, so Redis (or its dumps) only ever sees
  ciphertext.
"""

from __future__ import annotations

import base64
import heapq
import json
import time
from collections.abc import Callable
from typing import Protocol

import redis.asyncio as redis

from smartpay.vault.crypto import SealedRecord, associated_data, open_, seal
from smartpay.vault.keys import KeyProvider

# Purpose label in the associated data of sealed CVCs: a sealed CVC cannot be replayed
# as a card record, nor moved to another key.
CVC_AAD_PURPOSE = "smartpay.vault.cvc.v1"
# Namespace of our keys in a Redis that may be shared with other applications.
DEFAULT_REDIS_PREFIX = "smartpay:cvc:"


class CvcStore(Protocol):
    async def put(self, key: str, cvc: str, ttl_seconds: int) -> None:
        """Keep ``cvc`` under ``key`` for at most ``ttl_seconds``."""
        ...

    async def take(self, key: str) -> str | None:
        """Return the CVC and delete it atomically; None if absent or expired."""
        ...

    async def ping(self) -> None:
        """Raise if the store cannot be reached (readiness checks)."""
        ...


def _check_ttl(ttl_seconds: int) -> None:
    if ttl_seconds <= 0:
        raise ValueError("ttl_seconds must be positive")


class MemoryCvcStore:
    """CVCs in a dict with expiry times, for one process.

    Each method runs without awaiting, so under asyncio it is atomic: two tasks cannot
    both take the same CVC. Expired entries are purged on every access, oldest first.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._entries: dict[str, tuple[str, float]] = {}
        # (expires_at, key) in expiry order; entries replaced by a later put are skipped.
        self._expiries: list[tuple[float, str]] = []

    async def put(self, key: str, cvc: str, ttl_seconds: int) -> None:
        _check_ttl(ttl_seconds)
        now = self._clock()
        self._purge(now)
        expires_at = now + ttl_seconds
        self._entries[key] = (cvc, expires_at)
        heapq.heappush(self._expiries, (expires_at, key))

    async def take(self, key: str) -> str | None:
        self._purge(self._clock())
        entry = self._entries.pop(key, None)
        return entry[0] if entry is not None else None

    async def ping(self) -> None:
        """Process memory is always there."""

    def __len__(self) -> int:
        return len(self._entries)

    def _purge(self, now: float) -> None:
        while self._expiries and self._expiries[0][0] <= now:
            expires_at, key = heapq.heappop(self._expiries)
            entry = self._entries.get(key)
            if entry is not None and entry[1] == expires_at:
                del self._entries[key]
        # Keys taken before they expired leave stale heap items behind; drop them when
        # they outnumber the live entries so the heap cannot grow without bound.
        if len(self._expiries) > 2 * len(self._entries) + 64:
            self._expiries = [(e[1], k) for k, e in self._entries.items()]
            heapq.heapify(self._expiries)


def _encode(record: SealedRecord) -> bytes:
    return json.dumps(
        {
            "v": record.key_version,
            "k": base64.b64encode(record.wrapped_key).decode(),
            "n": base64.b64encode(record.nonce).decode(),
            "c": base64.b64encode(record.ciphertext).decode(),
        }
    ).encode()


def _decode(raw: bytes) -> SealedRecord:
    document = json.loads(raw)
    return SealedRecord(
        ciphertext=base64.b64decode(document["c"]),
        nonce=base64.b64decode(document["n"]),
        wrapped_key=base64.b64decode(document["k"]),
        key_version=document["v"],
    )


class RedisCvcStore:
    """CVCs in Redis, sealed, with ``SET … EX`` expiry and ``GETDEL`` to take them."""

    def __init__(
        self, redis_url: str, provider: KeyProvider, *, prefix: str = DEFAULT_REDIS_PREFIX
    ) -> None:
        # from_url connects lazily, on the first command.
        self._client: redis.Redis = redis.Redis.from_url(redis_url)
        self._provider = provider
        self._prefix = prefix

    def redis_key(self, key: str) -> str:
        return self._prefix + key

    async def put(self, key: str, cvc: str, ttl_seconds: int) -> None:
        _check_ttl(ttl_seconds)
        sealed = seal(self._provider, cvc.encode(), associated_data(CVC_AAD_PURPOSE, key))
        await self._client.set(self.redis_key(key), _encode(sealed), ex=ttl_seconds)

    async def take(self, key: str) -> str | None:
        # GETDEL (Redis 6.2+) reads and deletes in one command: the CVC is used once.
        raw = await self._client.getdel(self.redis_key(key))
        if raw is None:
            return None
        sealed = _decode(raw if isinstance(raw, bytes) else raw.encode())
        return open_(self._provider, sealed, associated_data(CVC_AAD_PURPOSE, key)).decode()

    async def ping(self) -> None:
        await self._client.ping()

    async def close(self) -> None:
        await self._client.aclose()
