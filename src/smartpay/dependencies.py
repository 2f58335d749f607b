"""Typed ``Annotated`` aliases through which routes receive what ``create_app`` wired,
and the one way a write endpoint runs: in a unit of work, behind its Idempotency-Key."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import Response

from smartpay.config import Settings
from smartpay.errors import IdempotencyConflict, InvalidRequest
from smartpay.kit import idempotency
from smartpay.kit.api import StripeJSONResponse, cached_body_params, json_bytes
from smartpay.kit.clock import now
from smartpay.kit.db import Database, Session
from smartpay.merchants.auth import any_key_auth, secret_key_auth
from smartpay.merchants.service import MerchantContext
from smartpay.vault.service import Vault

# How long a request waits for another in-flight request with the same Idempotency-Key
# before answering 409. Covers one processor round trip with room to spare.
IDEMPOTENCY_WAIT_SECONDS = 15.0
IDEMPOTENCY_POLL_SECONDS = 0.05


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


def get_vault(request: Request) -> Vault:
    vault: Vault = request.app.state.vault
    return vault


SettingsDep = Annotated[Settings, Depends(get_settings)]
VaultDep = Annotated[Vault, Depends(get_vault)]
DatabaseDep = Annotated[Database, Depends(get_database)]
SecretAuth = Annotated[MerchantContext, Depends(secret_key_auth)]
AnyKeyAuth = Annotated[MerchantContext, Depends(any_key_auth)]


@dataclass(slots=True)
class WriteContext:
    """What an idempotent write needs to know about its request."""

    database: Database
    settings: Settings
    merchant: MerchantContext
    idempotency_key: str | None
    fingerprint: str

    async def claim(self, session: Session) -> Response | None:
        """Claim the key inside ``session``'s transaction; a response means replay it."""
        if self.idempotency_key is None:
            return None
        stored = await idempotency.claim(
            session,
            merchant_id=self.merchant.merchant_id,
            key=self.idempotency_key,
            fingerprint=self.fingerprint,
            now=now(),
            ttl_seconds=self.settings.idempotency_ttl_hours * 3600,
        )
        if stored is None:
            return None
        return Response(
            content=stored.body,
            status_code=stored.status,
            media_type="application/json",
            headers={"Idempotent-Replayed": "true"},
        )

    async def complete(self, session: Session, status: int, body: dict[str, Any]) -> Response:
        encoded = json_bytes(body)
        if self.idempotency_key is not None:
            await idempotency.complete(
                session,
                merchant_id=self.merchant.merchant_id,
                key=self.idempotency_key,
                status=status,
                body=encoded,
            )
        return Response(content=encoded, status_code=status, media_type="application/json")

    async def attach(self, session: Session, resource_id: str) -> None:
        """Name the object a multi-phase request works on (its recovery point)."""
        if self.idempotency_key is not None:
            await idempotency.attach_resource(
                session,
                merchant_id=self.merchant.merchant_id,
                key=self.idempotency_key,
                resource_id=resource_id,
            )

    async def release(self) -> None:
        """Drop this request's claim after a failure that left nothing to replay."""
        if self.idempotency_key is None:
            return
        async with self.database.transaction() as session:
            await idempotency.release(
                session, merchant_id=self.merchant.merchant_id, key=self.idempotency_key
            )

    async def run(self, work: Callable[[Session], Awaitable[dict[str, Any]]]) -> Response:
        """Run a single-transaction write: claim, work, store the response, commit once."""

        async def attempt() -> Response:
            async with self.database.transaction() as session:
                replay = await self.claim(session)
                if replay is not None:
                    return replay
                body = await work(session)
                return await self.complete(session, 200, body)

        return await self.retrying_conflicts(attempt)

    async def retrying_conflicts(self, attempt: Callable[[], Awaitable[Response]]) -> Response:
        """Wait out a concurrent request holding the same key, then replay its result."""
        deadline = time.monotonic() + IDEMPOTENCY_WAIT_SECONDS
        while True:
            try:
                return await attempt()
            except IdempotencyConflict:
                if time.monotonic() >= deadline:
                    raise
                await asyncio.sleep(IDEMPOTENCY_POLL_SECONDS)


def _write_context(auth: Callable[[Request], Awaitable[MerchantContext]]) -> Any:
    async def dependency(request: Request) -> WriteContext:
        merchant = await auth(request)
        key = request.headers.get("idempotency-key")
        if key is not None and not 1 <= len(key) <= idempotency.MAX_KEY_LENGTH:
            raise InvalidRequest(
                f"Idempotency-Key must be 1 to {idempotency.MAX_KEY_LENGTH} characters.",
                param="Idempotency-Key",
            )
        params = await cached_body_params(request)
        return WriteContext(
            database=request.app.state.database,
            settings=request.app.state.settings,
            merchant=merchant,
            idempotency_key=key,
            fingerprint=idempotency.request_fingerprint(request.method, request.url.path, params),
        )

    return dependency


# Declare the write context before the body model in a route's signature: the caller is
# authenticated before its parameters are validated, as Stripe does.
Write = Annotated[WriteContext, Depends(_write_context(secret_key_auth))]
PublishableWrite = Annotated[WriteContext, Depends(_write_context(any_key_auth))]


def ok(body: dict[str, Any]) -> Response:
    return StripeJSONResponse(body)
