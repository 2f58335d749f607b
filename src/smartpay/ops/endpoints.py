"""``/healthz`` (the process is alive), ``/readyz`` (it can serve: database, keyring,
CVC store, a live worker) and ``/metrics`` (Prometheus)."""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from smartpay.errors import AuthenticationFailed
from smartpay.kit.clock import now
from smartpay.ops import heartbeat, metrics, repository
from smartpay.platform import Platform

router = APIRouter(include_in_schema=False)
logger = logging.getLogger("smartpay.ops")

# A readiness check slower than this counts as failed: a load balancer polls often and
# must not pile up waiting probes behind a stuck database.
CHECK_TIMEOUT_SECONDS = 2.0


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


async def _database(platform: Platform) -> None:
    async with platform.database.transaction() as session:
        await repository.ping(session)


async def _keyring(platform: Platform) -> None:
    """The current key-encryption key can wrap and unwrap a data key."""
    data_key = platform.keyring.generate_data_key()
    unwrapped = platform.keyring.unwrap(data_key.wrapped, data_key.key_version)
    if unwrapped != data_key.plaintext:
        raise RuntimeError("the keyring unwrapped a different key")


async def _cvc_store(platform: Platform) -> None:
    await platform.cvc_store.ping()


async def _worker(platform: Platform) -> None:
    """Some worker (in this process or another) has done a round recently."""
    async with platform.database.transaction() as session:
        latest = await repository.latest_heartbeat(session)
    allowed = heartbeat.liveness_seconds(platform.settings.janitor_interval_seconds)
    if latest is None:
        raise RuntimeError("no worker has run: start `smartpay worker`")
    age = now() - latest
    if age > allowed:
        raise RuntimeError(f"the last worker heartbeat is {age} s old")


CHECKS: dict[str, Callable[[Platform], Awaitable[None]]] = {
    "database": _database,
    "keyring": _keyring,
    "cvc_store": _cvc_store,
    "worker": _worker,
}


async def _run(name: str, check: Callable[[Platform], Awaitable[None]], p: Platform) -> str:
    try:
        await asyncio.wait_for(check(p), timeout=CHECK_TIMEOUT_SECONDS)
    except TimeoutError:
        return f"failed: no answer within {CHECK_TIMEOUT_SECONDS:g} s"
    except RuntimeError as exc:  # a check's own explanation
        return f"failed: {exc}"
    except Exception as exc:
        logger.warning("readiness check %s failed: %s", name, exc)
        return f"failed: {type(exc).__name__}"
    return "ok"


@router.get("/readyz")
async def readyz(request: Request) -> Response:
    """200 when every dependency answers, else 503 naming the ones that do not."""
    platform: Platform = request.app.state.platform
    results = await asyncio.gather(*(_run(name, check, platform) for name, check in CHECKS.items()))
    checks = dict(zip(CHECKS, results, strict=True))
    ready = all(result == "ok" for result in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": checks},
        status_code=200 if ready else 503,
    )


@router.get("/metrics")
async def metrics_endpoint(request: Request) -> Response:
    platform: Platform = request.app.state.platform
    token = platform.settings.metrics_token
    if token:
        presented = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(presented.encode(), token.encode()):
            raise AuthenticationFailed(
                "Scraping /metrics needs 'Authorization: Bearer <SMARTPAY_METRICS_TOKEN>'."
            )
    body, content_type = await metrics.render(platform.database)
    return Response(body, media_type=content_type)
