"""Merchants and their API keys. Keys are shown once, stored only as hashes."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

from smartpay.errors import ResourceMissing
from smartpay.kit.clock import now
from smartpay.kit.db import Database, Session
from smartpay.kit.ids import new_id, new_secret
from smartpay.merchants import repository
from smartpay.merchants.models import KeyKind


async def get_merchant(session: Session, merchant_id: str) -> Any:
    row = await repository.get_merchant(session, merchant_id)
    if row is None:
        raise ResourceMissing(f"No such merchant: '{merchant_id}'", param="merchant")
    return row


@dataclass(frozen=True, slots=True)
class MerchantKeys:
    merchant_id: str
    name: str
    secret_key: str
    publishable_key: str


@dataclass(frozen=True, slots=True)
class MerchantContext:
    """Who is calling: the merchant and the kind of key it used."""

    merchant_id: str
    name: str
    key_kind: KeyKind


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def create_merchant(session: Session, name: str) -> MerchantKeys:
    merchant_id = new_id("acct")
    created = now()
    await repository.insert_merchant(session, merchant_id=merchant_id, name=name, created=created)
    secret = new_secret("sk_test")
    publishable = new_secret("pk_test")
    for key, kind in ((secret, KeyKind.SECRET), (publishable, KeyKind.PUBLISHABLE)):
        await repository.insert_key(
            session,
            id=new_id("key"),
            merchant_id=merchant_id,
            kind=kind.value,
            key_hash=hash_key(key),
            last4=key[-4:],
            created=created,
            revoked=False,
        )
    return MerchantKeys(merchant_id, name, secret, publishable)


# Authentication runs on every request; caching the key lookup saves a query per call.
# A revoked key stops working within this many seconds.
KEY_CACHE_SECONDS = 30.0
KEY_CACHE_MAX_ENTRIES = 10_000


class KeyResolver:
    """Looks API keys up by hash, with a short in-process cache."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[float, MerchantContext | None]] = {}

    async def resolve(self, database: Database, key: str) -> MerchantContext | None:
        """The caller behind ``key``; the database is asked only on a cache miss."""
        digest = hash_key(key)
        cached = self._cache.get(digest)
        monotonic = time.monotonic()
        if cached is not None and cached[0] > monotonic:
            return cached[1]
        async with database.transaction() as session:
            row = await repository.find_by_key_hash(session, digest)
        context = MerchantContext(row.merchant_id, row.name, KeyKind(row.kind)) if row else None
        if len(self._cache) >= KEY_CACHE_MAX_ENTRIES:
            self._cache.clear()
        # Unknown keys are cached too, so a flood of bad keys costs no queries.
        self._cache[digest] = (monotonic + KEY_CACHE_SECONDS, context)
        return context
