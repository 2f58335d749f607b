"""OpenTelemetry tracing, off unless an exporter is configured (``SMARTPAY_OTEL_EXPORTER``).

Spans: every HTTP request (FastAPI), every database statement (SQLAlchemy: the SQL text
with its placeholders, never the parameters, so no card data), every outgoing call made
with httpx (webhook deliveries), every processor call (``processor.<operation>
<processor>``, opened by the payment flows) and every LLM call (``llm.call <provider>``,
opened by the LLM client: the SDKs are built on httpx2, which the httpx instrumentation
does not see). Processor and LLM spans carry names only, never the request.

The OpenTelemetry SDK and instrumentations are the ``otel`` extra; without them, and by
default, the SDK is not imported (the API package comes with FastAPI).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opentelemetry import trace

from smartpay.config import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from sqlalchemy.ext.asyncio import AsyncEngine


@dataclass(slots=True)
class Tracing:
    """What ``setup`` installed, so the app can instrument its engine once it exists and
    flush spans at shutdown."""

    provider: TracerProvider
    app: FastAPI

    def instrument_engine(self, engine: AsyncEngine) -> None:
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

        SQLAlchemyInstrumentor().instrument(
            engine=engine.sync_engine, tracer_provider=self.provider, enable_commenter=False
        )

    def shutdown(self) -> None:
        """Flush the spans and take the instrumentation off (tests build many apps)."""
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

        SQLAlchemyInstrumentor().uninstrument()
        HTTPXClientInstrumentor().uninstrument()
        FastAPIInstrumentor.uninstrument_app(self.app)
        self.provider.shutdown()


def _exporter(settings: Settings) -> SpanExporter:
    if settings.otel_exporter == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=settings.otel_endpoint)


def setup(app: FastAPI, settings: Settings, exporter: Any = None) -> Tracing | None:
    """Instrument ``app`` when an exporter is configured (or passed, as tests do)."""
    if exporter is None and settings.otel_exporter == "none":
        return None
    try:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:  # configured without the extra installed
        raise RuntimeError(
            "SMARTPAY_OTEL_EXPORTER is set but OpenTelemetry is not installed: "
            "pip install 'smartpay[otel]'."
        ) from exc
    provider = TracerProvider(
        resource=Resource.create({"service.name": settings.otel_service_name})
    )
    provider.add_span_processor(BatchSpanProcessor(exporter or _exporter(settings)))
    trace.set_tracer_provider(provider)
    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider)
    HTTPXClientInstrumentor().instrument(tracer_provider=provider)
    return Tracing(provider, app)
