"""``/v1/routing``: a merchant's routing configuration, and what routing would do with a
hypothetical payment. SmartPay extensions (Stripe has no equivalent)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from smartpay.cards import service as payment_methods
from smartpay.connectors.facts import amount_band, bin_of, issuer_country
from smartpay.dependencies import DatabaseDep, SecretAuth, VaultDep, Write, ok
from smartpay.kit.api import body_doc, body_of
from smartpay.kit.db import Session
from smartpay.kit.money import check_amount, normalize_currency
from smartpay.routing.bandit import PaymentContext
from smartpay.routing.schemas import DecideBody, RoutingConfig, RoutingConfigBody, render_config
from smartpay.routing.service import RoutingService

router = APIRouter(tags=["routing"])
BODY_MODELS = [RoutingConfigBody, DecideBody]


def get_routing(request: Request) -> RoutingService:
    routing: RoutingService = request.app.state.routing
    return routing


Routing = Annotated[RoutingService, Depends(get_routing)]


@router.get("/v1/routing/config")
async def retrieve_routing_config(
    merchant: SecretAuth, db: DatabaseDep, routing: Routing
) -> Response:
    """The configuration that routes your payments: yours if you saved one, else the file's
    or the default. Only ever your own."""
    async with db.transaction() as session:
        routed = await routing.config_for(session, merchant.merchant_id)
    return ok(render_config(merchant.merchant_id, routed.config, routed.source, routed.updated))


@router.post("/v1/routing/config", openapi_extra=body_doc(RoutingConfigBody))
async def save_routing_config(
    ctx: Write,
    params: Annotated[RoutingConfigBody, Depends(body_of(RoutingConfigBody))],
    routing: Routing,
) -> Response:
    """Replace your routing configuration. Every processor named must be enabled."""
    config = RoutingConfig.model_validate(params.model_dump(exclude={"expand"}))
    merchant_id = ctx.merchant.merchant_id

    async def work(session: Session) -> dict[str, Any]:
        routed = await routing.save_config(session, merchant_id, config)
        return render_config(merchant_id, routed.config, routed.source, routed.updated)

    return await ctx.run(work)


@router.post("/v1/routing/decide", openapi_extra=body_doc(DecideBody))
async def decide_routing(
    merchant: SecretAuth,
    params: Annotated[DecideBody, Depends(body_of(DecideBody))],
    db: DatabaseDep,
    vault: VaultDep,
    routing: Routing,
) -> Response:
    """The processors a payment like this would be sent to, ranked, with scores and
    reasons. Nothing is charged and nothing is learned."""
    amount = check_amount(params.amount)
    currency = normalize_currency(params.currency)
    brand = params.card_brand.lower() if params.card_brand else None
    country = params.card_country.upper() if params.card_country else None
    bin_digits = params.bin
    async with db.transaction() as session:
        if params.payment_method is not None:
            method = await payment_methods.get(session, merchant.merchant_id, params.payment_method)
            card = await vault.load_card(session, merchant.merchant_id, method.vault_token)
            try:
                brand = brand or method.brand
                country = country or issuer_country(card.number)
                bin_digits = bin_digits or bin_of(card.number)
            finally:
                card.wipe()
        context = PaymentContext(
            merchant_id=merchant.merchant_id,
            amount=amount,
            currency=currency,
            brand=brand,
            country=country,
            amount_band=amount_band(amount, currency),
            bin=bin_digits,
            customer=params.customer,
            metadata=dict(params.metadata or {}),
        )
        decision = await routing.decide(session, context)
    scores = {item["processor"]: item for item in decision.scores}
    ranked = [
        {
            "processor": name,
            "rank": position + 1,
            "score": scores.get(name),
            "breaker": decision.breakers.get(name),
        }
        for position, name in enumerate(decision.processors)
    ]
    return ok(
        {
            "object": "routing_decision",
            "segment": decision.segment,
            "method": decision.method,
            "rule": decision.rule,
            "processors": ranked,
            "skipped": decision.skipped,
        }
    )
