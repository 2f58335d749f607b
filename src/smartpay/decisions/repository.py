"""Every SQL statement of the decisions domain."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from smartpay.decisions.models import (
    ActionStatus,
    decision_actions,
    decision_policies,
    decision_votes,
    decisions,
)
from smartpay.kit.db import Session, insert_if_absent
from smartpay.kit.pagination import ListParams, Page, fetch_page


async def insert_decision(session: Session, values: dict[str, Any]) -> bool:
    """Insert the decision unless one with its request key exists; True if inserted."""
    result = await session.execute(insert_if_absent(decisions, values))
    return bool(result.rowcount)


async def insert_votes(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(sa.insert(decision_votes), rows)


async def get(session: Session, merchant_id: str, decision_id: str) -> sa.Row[Any] | None:
    query = sa.select(decisions).where(
        decisions.c.id == decision_id, decisions.c.merchant_id == merchant_id
    )
    return (await session.execute(query)).first()


async def by_request_key(session: Session, merchant_id: str, key: str) -> sa.Row[Any] | None:
    query = sa.select(decisions).where(
        decisions.c.merchant_id == merchant_id, decisions.c.request_key == key
    )
    return (await session.execute(query)).first()


async def votes_of(session: Session, decision_ids: Sequence[str]) -> list[sa.Row[Any]]:
    if not decision_ids:
        return []
    query = (
        sa.select(decision_votes)
        .where(decision_votes.c.decision_id.in_(list(decision_ids)))
        .order_by(decision_votes.c.id)
    )
    return list((await session.execute(query)).all())


async def actions_of(session: Session, decision_ids: Sequence[str]) -> list[sa.Row[Any]]:
    if not decision_ids:
        return []
    query = (
        sa.select(decision_actions)
        .where(decision_actions.c.decision_id.in_(list(decision_ids)))
        .order_by(decision_actions.c.id)
    )
    return list((await session.execute(query)).all())


async def page(
    session: Session,
    merchant_id: str,
    params: ListParams,
    where: Sequence[sa.ColumnElement[bool]],
) -> Page:
    return await fetch_page(
        session, decisions, params, [decisions.c.merchant_id == merchant_id, *where]
    )


async def claim_action(session: Session, **values: Any) -> bool:
    """Claim (merchant, subject, action); False if it was claimed before."""
    row = {**values, "status": ActionStatus.DONE.value, "result": {}}
    result = await session.execute(insert_if_absent(decision_actions, row))
    return bool(result.rowcount)


async def finish_action(
    session: Session, action_id: str, status: str, result: dict[str, Any]
) -> None:
    await session.execute(
        sa.update(decision_actions)
        .where(decision_actions.c.id == action_id)
        .values(status=status, result=result)
    )


async def action_for(
    session: Session, merchant_id: str, subject_id: str, action: str
) -> sa.Row[Any]:
    query = sa.select(decision_actions).where(
        decision_actions.c.merchant_id == merchant_id,
        decision_actions.c.subject_id == subject_id,
        decision_actions.c.action == action,
    )
    return (await session.execute(query)).one()


async def set_ground_truth(
    session: Session, decision_id: str, truth: str, source: str, at: int
) -> None:
    await session.execute(
        sa.update(decisions)
        .where(decisions.c.id == decision_id)
        .values(ground_truth=truth, ground_truth_source=source, ground_truth_at=at)
    )


async def judged_votes(session: Session, merchant_id: str) -> list[sa.Row[Any]]:
    """Every valid vote of the merchant with its decision's kind, outcome and ground truth."""
    query = (
        sa.select(
            decision_votes.c.voter,
            decision_votes.c.status,
            decision_votes.c.decision,
            decisions.c.kind,
            decisions.c.outcome,
            decisions.c.ground_truth,
        )
        .join(decisions, decisions.c.id == decision_votes.c.decision_id)
        .where(decision_votes.c.merchant_id == merchant_id)
    )
    return list((await session.execute(query)).all())


async def policy(session: Session, merchant_id: str) -> sa.Row[Any] | None:
    query = sa.select(decision_policies).where(decision_policies.c.merchant_id == merchant_id)
    return (await session.execute(query)).first()


async def save_policy(session: Session, values: dict[str, Any]) -> None:
    merchant_id = values["merchant_id"]
    updated = await session.execute(
        sa.update(decision_policies)
        .where(decision_policies.c.merchant_id == merchant_id)
        .values(**values)
    )
    if not updated.rowcount:
        await session.execute(insert_if_absent(decision_policies, values))
        await session.execute(
            sa.update(decision_policies)
            .where(decision_policies.c.merchant_id == merchant_id)
            .values(**values)
        )
