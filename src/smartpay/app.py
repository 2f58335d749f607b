"""``create_app()``: the only place that wires SmartPay together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from smartpay import worker
from smartpay.ach import endpoints as ach_endpoints
from smartpay.cards import endpoints as payment_method_endpoints
from smartpay.chat import endpoints as chat_endpoints
from smartpay.chat.cors import ChatCors
from smartpay.chat.ratelimit import RateLimiter
from smartpay.chat.service import build_chat_service
from smartpay.config import Settings
from smartpay.customers import endpoints as customer_endpoints
from smartpay.dashboard import endpoints as dashboard_endpoints
from smartpay.decisions import endpoints as decision_endpoints
from smartpay.escrow import endpoints as escrow_endpoints
from smartpay.events import endpoints as event_endpoints
from smartpay.events import stream as event_stream
from smartpay.inbound import endpoints as inbound_endpoints
from smartpay.kit.api import (
    RejectNulInPath,
    StripeJSONResponse,
    install_error_handlers,
    install_openapi,
)
from smartpay.kit.logs import configure_logging
from smartpay.kit.request_context import RequestIdMiddleware
from smartpay.ledger import endpoints as ledger_endpoints
from smartpay.llm.factory import build_llm
from smartpay.merchants.service import KeyResolver
from smartpay.ops import endpoints as ops_endpoints
from smartpay.ops import tracing as ops_tracing
from smartpay.ops.metrics import MetricsMiddleware
from smartpay.payments import endpoints as payment_endpoints
from smartpay.platform import build_platform
from smartpay.reports import endpoints as report_endpoints
from smartpay.risk import endpoints as risk_endpoints
from smartpay.routing import endpoints as routing_endpoints
from smartpay.web import challenge, chat_pages
from smartpay.webhooks import endpoints as webhook_endpoints

logger = logging.getLogger("smartpay")


def create_app(settings: Settings | None = None, *, span_exporter: Any = None) -> FastAPI:
    """The API, wired from ``settings``. ``span_exporter`` receives the trace spans
    instead of the configured exporter (tests)."""
    settings = settings or Settings()
    configure_logging(settings.log_level, settings.log_format)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        platform = build_platform(settings)
        state = app.state
        state.platform = platform
        state.database = platform.database
        state.vault = platform.vault
        state.cvc_store = platform.cvc_store
        state.connectors = platform.connectors
        state.payment_flows = platform.payment_flows
        state.routing = platform.routing
        state.decisions = platform.decisions
        state.chat = build_chat_service(
            settings,
            database=platform.database,
            vault=platform.vault,
            cvc_store=platform.cvc_store,
            flows=platform.payment_flows,
            llm=build_llm(settings),
        )
        if tracing is not None:
            tracing.instrument_engine(platform.database.engine)
        stop = asyncio.Event()
        background = None
        if settings.run_worker_in_process:
            background = asyncio.create_task(worker.run_forever(platform, stop))
        try:
            yield
        finally:
            stop.set()
            if background is not None:
                background.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await background
            await state.chat.close()
            await platform.close()
            if tracing is not None:
                tracing.shutdown()

    app = FastAPI(
        title="SmartPay",
        version="0.1.0",
        description="Stripe-compatible payment orchestration. Authenticate with "
        "`Authorization: Bearer sk_test_…`. Bodies are form-encoded (Stripe's bracket "
        "nesting) or JSON.",
        lifespan=lifespan,
        default_response_class=StripeJSONResponse,
    )
    app.state.settings = settings
    app.state.key_resolver = KeyResolver()
    app.state.chat_limiter = RateLimiter(settings.chat_rate_limit_per_second)
    app.state.chat_cors = ChatCors(settings)
    install_error_handlers(app)
    app.add_middleware(RejectNulInPath)
    body_models: list[type[BaseModel]] = []
    for module in (
        customer_endpoints,
        payment_method_endpoints,
        payment_endpoints,
        event_endpoints,
        event_stream,
        inbound_endpoints,
        ledger_endpoints,
        challenge,
        webhook_endpoints,
        dashboard_endpoints,
        chat_endpoints,
        chat_pages,
        ach_endpoints,
        escrow_endpoints,
        routing_endpoints,
        decision_endpoints,
        report_endpoints,
        risk_endpoints,
    ):
        app.include_router(module.router)
        body_models.extend(getattr(module, "BODY_MODELS", []))
    install_openapi(app, body_models)
    app.include_router(ops_endpoints.router)
    # Outermost last: every request gets its id first, then is timed.
    app.add_middleware(MetricsMiddleware)
    app.add_middleware(RequestIdMiddleware)
    tracing = ops_tracing.setup(app, settings, span_exporter)
    return app
