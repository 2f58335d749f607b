"""With an exporter configured, a payment produces spans for the HTTP request, each
database statement and the processor call, an LLM call has its own span, and no span
carries card data."""

from __future__ import annotations

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from smartpay.app import create_app
from smartpay.config import Settings
from smartpay.kit.db import Database
from smartpay.llm.common import within_deadline
from smartpay.merchants.service import create_merchant
from tests.card_scan import card_data_in_text


async def test_a_payment_is_traced_without_card_data(
    settings: Settings, database: Database
) -> None:
    exporter = InMemorySpanExporter()
    app = create_app(settings, span_exporter=exporter)
    assert getattr(app, "_is_instrumented_by_opentelemetry", False)
    async with app.router.lifespan_context(app):
        async with database.transaction() as session:
            keys = await create_merchant(session, "Traced merchant")
        auth = {"Authorization": f"Bearer {keys.secret_key}"}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            method = await client.post(
                "/v1/payment_methods",
                headers=auth,
                data={
                    "type": "card",
                    "card[number]": "4242424242424242",
                    "card[exp_month]": "12",
                    "card[exp_year]": "2031",
                    "card[cvc]": "123",
                },
            )
            intent = await client.post(
                "/v1/payment_intents",
                headers=auth,
                data={
                    "amount": "2000",
                    "currency": "usd",
                    "payment_method": method.json()["id"],
                    "confirm": "true",
                },
            )
            assert intent.status_code == 200, intent.text

        async def model_answer() -> str:
            return "{}"

        assert await within_deadline(1.0, "local", model_answer) == "{}"
    spans = exporter.get_finished_spans()  # the lifespan's end flushed them
    names = [span.name for span in spans]
    assert "POST /v1/payment_intents" in names, names
    statements = [s for s in spans if s.attributes and "db.statement" in s.attributes]
    assert any(
        "INSERT INTO payment_intents" in str(s.attributes["db.statement"]) for s in statements
    )
    request_span = next(s for s in spans if s.name == "POST /v1/payment_intents")
    children = [s for s in statements if s.context.trace_id == request_span.context.trace_id]
    assert children, "database spans belong to the request's trace"
    processor = [s for s in spans if s.name == "processor.authorize sandbox"]
    assert len(processor) == 1
    assert processor[0].context.trace_id == request_span.context.trace_id
    assert processor[0].attributes == {
        "smartpay.processor": "sandbox",
        "smartpay.processor.operation": "authorize",
    }
    llm = [s for s in spans if s.name == "llm.call local"]
    assert len(llm) == 1 and llm[0].attributes == {"smartpay.llm.provider": "local"}
    for span in spans:
        text = f"{span.name} {dict(span.attributes or {})} {[e.attributes for e in span.events]}"
        assert card_data_in_text(text) == []


@pytest.mark.settings(otel_exporter="none")
async def test_no_exporter_no_tracing(settings: Settings) -> None:
    app = create_app(settings)
    assert not getattr(app, "_is_instrumented_by_opentelemetry", False)
