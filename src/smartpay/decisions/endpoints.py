"""Decision routes (/v1/decisions): create, retrieve, list with filters, record ground
truth, the voters' agreement and accuracy, and the merchant's policy."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from smartpay.decisions import repository, service
from smartpay.decisions.models import decisions as decisions_table
from smartpay.decisions.schemas import (
    DecisionCreate,
    DecisionList,
    GroundTruthCreate,
    PolicyLearn,
    PolicyUpdate,
)
from smartpay.decisions.service import DecisionService
from smartpay.decisions.voters import DecisionRequest
from smartpay.dependencies import DatabaseDep, SecretAuth, Write, ok
from smartpay.kit.api import body_doc, body_of, query_doc, query_of
from smartpay.kit.db import Session
from smartpay.kit.pagination import created_clauses, list_body

router = APIRouter(prefix="/v1/decisions", tags=["decisions"])
BODY_MODELS = [DecisionCreate, GroundTruthCreate, PolicyUpdate, PolicyLearn]


def get_decisions(request: Request) -> DecisionService:
    decisions: DecisionService = request.app.state.decisions
    return decisions


DecisionsDep = Annotated[DecisionService, Depends(get_decisions)]


@router.post("", openapi_extra=body_doc(DecisionCreate))
async def create_decision(
    ctx: Write,
    params: Annotated[DecisionCreate, Depends(body_of(DecisionCreate))],
    decisions: DecisionsDep,
) -> Response:
    """Votes first, outside any transaction (LLM voters may take seconds), then records
    and acts in one unit of work. A request already decided is answered from the record."""
    request = DecisionRequest(
        merchant_id=ctx.merchant.merchant_id,
        kind=params.kind,
        subject_id=params.subject,
        context=params.context,
        amount=params.amount,
        currency=params.currency.lower() if params.currency else None,
        request_key=params.request_key,
    )
    async with ctx.database.transaction() as session:
        existing = await repository.by_request_key(session, request.merchant_id, request.key)
    decided_id = existing.id if existing is not None else None
    ballot = None if decided_id is not None else await decisions.vote(request)

    async def work(session: Session) -> dict[str, Any]:
        if ballot is None:
            assert decided_id is not None
            return await service.load(session, request.merchant_id, decided_id)
        return (await decisions.record(session, request, ballot)).body

    return await ctx.run(work)


@router.get("/voters")
async def voter_report(merchant: SecretAuth, db: DatabaseDep) -> Response:
    """Per voter: valid votes, abstentions, agreement with the final outcome and accuracy
    against ground truth."""
    async with db.transaction() as session:
        stats = await service.voter_stats(session, merchant.merchant_id)
    return ok(list_body("/v1/decisions/voters", [s.to_json() for s in stats], False))


@router.get("/policy")
async def get_policy(merchant: SecretAuth, db: DatabaseDep, decisions: DecisionsDep) -> Response:
    async with db.transaction() as session:
        policy = await decisions.policy(session, merchant.merchant_id)
    return ok(policy.to_json())


@router.post("/policy", openapi_extra=body_doc(PolicyUpdate))
async def update_policy(
    ctx: Write,
    params: Annotated[PolicyUpdate, Depends(body_of(PolicyUpdate))],
    decisions: DecisionsDep,
) -> Response:
    async def work(session: Session) -> dict[str, Any]:
        merchant_id = ctx.merchant.merchant_id
        await service.save_policy(
            session, merchant_id, strategy=params.strategy, weights=params.weights
        )
        return (await decisions.policy(session, merchant_id)).to_json()

    return await ctx.run(work)


@router.post("/policy/learn", openapi_extra=body_doc(PolicyLearn))
async def learn_policy(
    ctx: Write,
    params: Annotated[PolicyLearn, Depends(body_of(PolicyLearn))],
    decisions: DecisionsDep,
) -> Response:
    """Weights from each voter's accuracy against the recorded ground truth."""

    async def work(session: Session) -> dict[str, Any]:
        merchant_id = ctx.merchant.merchant_id
        await service.learn_policy_weights(session, merchant_id)
        return (await decisions.policy(session, merchant_id)).to_json()

    return await ctx.run(work)


@router.get("/{decision_id}")
async def retrieve_decision(decision_id: str, merchant: SecretAuth, db: DatabaseDep) -> Response:
    async with db.transaction() as session:
        body = await service.load(session, merchant.merchant_id, decision_id)
    return ok(body)


@router.get("", openapi_extra=query_doc(DecisionList))
async def list_decisions(
    merchant: SecretAuth,
    db: DatabaseDep,
    params: Annotated[DecisionList, Depends(query_of(DecisionList))],
) -> Response:
    async with db.transaction() as session:
        page = await service.list_page(
            session,
            merchant.merchant_id,
            params,
            kind=params.kind.value if params.kind else None,
            subject=params.subject,
            outcome=params.outcome,
            escalated=params.escalated,
            created=created_clauses(decisions_table.c.created, params.created),
        )
        data = await service.render_page(session, page)
    return ok(list_body("/v1/decisions", data, page.has_more))


@router.post("/{decision_id}/ground_truth", openapi_extra=body_doc(GroundTruthCreate))
async def record_ground_truth(
    decision_id: str,
    ctx: Write,
    params: Annotated[GroundTruthCreate, Depends(body_of(GroundTruthCreate))],
) -> Response:
    async def work(session: Session) -> dict[str, Any]:
        return await service.record_ground_truth(
            session, ctx.merchant.merchant_id, decision_id, params.ground_truth, params.source
        )

    return await ctx.run(work)
