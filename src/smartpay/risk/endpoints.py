"""The risk API: /v1/risk/rules, /v1/risk/lists, /v1/risk/assess, /v1/reviews and
/v1/payment_intents/{id}/fraud_feedback. Thin: the work is in `admin` and `service`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from smartpay.dependencies import DatabaseDep, SecretAuth, Write, ok
from smartpay.errors import InvalidRequest
from smartpay.kit.api import body_doc, body_of, query_doc, query_of
from smartpay.kit.db import Session
from smartpay.kit.pagination import list_body
from smartpay.kit.params import StripeParams
from smartpay.payments.flows import PaymentFlows
from smartpay.payments.service import get_intent
from smartpay.risk import admin, repository
from smartpay.risk.models import LabelSource
from smartpay.risk.reviews import render_review
from smartpay.risk.schemas import (
    FraudFeedback,
    ListEntryCreate,
    ListEntryList,
    ReviewClose,
    ReviewList,
    RiskAssess,
    RuleCreate,
    RuleUpdate,
    render_list_entry,
    render_rule,
)
from smartpay.risk.service import RiskService

router = APIRouter(tags=["risk"])
BODY_MODELS = [RuleCreate, RuleUpdate, ListEntryCreate, FraudFeedback, RiskAssess, ReviewClose]


def get_risk(request: Request) -> RiskService | None:
    risk: RiskService | None = request.app.state.platform.risk
    return risk


def get_flows(request: Request) -> PaymentFlows:
    flows: PaymentFlows = request.app.state.payment_flows
    return flows


Risk = Annotated[RiskService | None, Depends(get_risk)]
Flows = Annotated[PaymentFlows, Depends(get_flows)]
NoQuery = Annotated[StripeParams, Depends(query_of(StripeParams))]


# ----------------------------------------------------------------- rules


@router.post("/v1/risk/rules", openapi_extra=body_doc(RuleCreate))
async def create_rule(
    ctx: Write, params: Annotated[RuleCreate, Depends(body_of(RuleCreate))], risk: Risk
) -> Response:
    async def work(session: Session) -> dict[str, Any]:
        return render_rule(await admin.create_rule(session, risk, ctx.merchant.merchant_id, params))

    return await ctx.run(work)


@router.get("/v1/risk/rules")
async def list_rules(merchant: SecretAuth, db: DatabaseDep, _params: NoQuery) -> Response:
    """Every rule of the merchant, in evaluation order (at most 100: no pagination)."""
    async with db.transaction() as session:
        rows = await repository.merchant_rules(session, merchant.merchant_id)
    return ok(list_body("/v1/risk/rules", [render_rule(row) for row in rows], False))


@router.get("/v1/risk/rules/{rule_id}")
async def retrieve_rule(
    rule_id: str, merchant: SecretAuth, db: DatabaseDep, _params: NoQuery
) -> Response:
    async with db.transaction() as session:
        return ok(render_rule(await admin.get_rule(session, merchant.merchant_id, rule_id)))


@router.post("/v1/risk/rules/{rule_id}", openapi_extra=body_doc(RuleUpdate))
async def update_rule(
    rule_id: str,
    ctx: Write,
    params: Annotated[RuleUpdate, Depends(body_of(RuleUpdate))],
    risk: Risk,
) -> Response:
    async def work(session: Session) -> dict[str, Any]:
        row = await admin.update_rule(session, risk, ctx.merchant.merchant_id, rule_id, params)
        return render_rule(row)

    return await ctx.run(work)


@router.delete("/v1/risk/rules/{rule_id}")
async def delete_rule(rule_id: str, ctx: Write, risk: Risk) -> Response:
    async def work(session: Session) -> dict[str, Any]:
        return await admin.delete_rule(session, risk, ctx.merchant.merchant_id, rule_id)

    return await ctx.run(work)


# ----------------------------------------------------------------- lists


@router.post("/v1/risk/lists", openapi_extra=body_doc(ListEntryCreate))
async def create_list_entry(
    ctx: Write, params: Annotated[ListEntryCreate, Depends(body_of(ListEntryCreate))], risk: Risk
) -> Response:
    async def work(session: Session) -> dict[str, Any]:
        row = await admin.create_list_entry(session, ctx.merchant.merchant_id, params)
        return render_list_entry(row)

    return await ctx.run(work)


@router.get("/v1/risk/lists", openapi_extra=query_doc(ListEntryList))
async def list_list_entries(
    merchant: SecretAuth,
    db: DatabaseDep,
    params: Annotated[ListEntryList, Depends(query_of(ListEntryList))],
) -> Response:
    async with db.transaction() as session:
        kind = params.kind.value if params.kind else None
        page = await repository.page_list_entries(session, merchant.merchant_id, params, kind)
    data = [render_list_entry(row) for row in page.rows]
    return ok(list_body("/v1/risk/lists", data, page.has_more))


@router.delete("/v1/risk/lists/{entry_id}")
async def delete_list_entry(entry_id: str, ctx: Write) -> Response:
    async def work(session: Session) -> dict[str, Any]:
        return await admin.delete_list_entry(session, ctx.merchant.merchant_id, entry_id)

    return await ctx.run(work)


# ----------------------------------------------------------------- assess


@router.post("/v1/risk/assess", openapi_extra=body_doc(RiskAssess))
async def assess(
    merchant: SecretAuth,
    db: DatabaseDep,
    params: Annotated[RiskAssess, Depends(body_of(RiskAssess))],
    risk: Risk,
) -> Response:
    """Score a payment that does not exist yet; nothing is recorded."""
    if risk is None:
        raise InvalidRequest("The risk engine is off (SMARTPAY_RISK_ENABLED=false).")
    async with db.transaction() as session:
        assessment = await admin.assess_unrecorded(session, risk, merchant.merchant_id, params)
    return ok({"object": "risk_assessment", **assessment.as_details()})


# ----------------------------------------------------------------- reviews


@router.get("/v1/reviews", openapi_extra=query_doc(ReviewList))
async def list_reviews(
    merchant: SecretAuth,
    db: DatabaseDep,
    params: Annotated[ReviewList, Depends(query_of(ReviewList))],
) -> Response:
    async with db.transaction() as session:
        status = params.status.value if params.status else None
        page = await repository.page_reviews(session, merchant.merchant_id, params, status)
    return ok(list_body("/v1/reviews", [render_review(row) for row in page.rows], page.has_more))


@router.get("/v1/reviews/{review_id}")
async def retrieve_review(
    review_id: str, merchant: SecretAuth, db: DatabaseDep, _params: NoQuery
) -> Response:
    async with db.transaction() as session:
        row = await repository.get_review(session, merchant.merchant_id, review_id)
    if row is None:
        from smartpay.errors import ResourceMissing

        raise ResourceMissing(f"No such review: '{review_id}'", param="review")
    return ok(render_review(row))


@router.post("/v1/reviews/{review_id}/approve", openapi_extra=body_doc(ReviewClose))
async def approve_review(
    review_id: str,
    ctx: Write,
    _params: Annotated[ReviewClose, Depends(body_of(ReviewClose))],
    db: DatabaseDep,
    flows: Flows,
    risk: Risk,
) -> Response:
    return ok(await admin.close_review(ctx, db, flows, risk, review_id, approve=True))


@router.post("/v1/reviews/{review_id}/reject", openapi_extra=body_doc(ReviewClose))
async def reject_review(
    review_id: str,
    ctx: Write,
    _params: Annotated[ReviewClose, Depends(body_of(ReviewClose))],
    db: DatabaseDep,
    flows: Flows,
    risk: Risk,
) -> Response:
    return ok(await admin.close_review(ctx, db, flows, risk, review_id, approve=False))


# ----------------------------------------------------------------- labels


@router.post(
    "/v1/payment_intents/{intent_id}/fraud_feedback", openapi_extra=body_doc(FraudFeedback)
)
async def fraud_feedback(
    intent_id: str,
    ctx: Write,
    params: Annotated[FraudFeedback, Depends(body_of(FraudFeedback))],
    risk: Risk,
) -> Response:
    """Report a payment as fraudulent or safe: a label for the features and retraining."""

    async def work(session: Session) -> dict[str, Any]:
        intent = await get_intent(session, ctx.merchant.merchant_id, intent_id)
        is_fraud = params.label == "fraudulent"
        await admin.record_label(
            session, risk, intent, is_fraud=is_fraud, source=LabelSource.FEEDBACK
        )
        return admin.render_label(intent_id, is_fraud, LabelSource.FEEDBACK.value)

    return await ctx.run(work)
