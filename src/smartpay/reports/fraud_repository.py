"""The SQL of the fraud and AI-decision sections, over the risk engine's tables (the
``risk`` object on payment intents, reviews, labels) and the decisions domain's (one
row per decision, one per vote). Imported only when those domains are installed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from smartpay.decisions.models import VoteStatus, decision_votes, decisions
from smartpay.kit.db import Session
from smartpay.payments.models import IntentStatus, payment_intents
from smartpay.reports.repository import Period
from smartpay.risk.models import LabelSource, risk_labels, risk_reviews

# Risk scores are integers from 0 to 1000; the distribution counts them in bins this wide.
SCORE_BIN_WIDTH = 100
# A score of exactly 1000 joins the last bin rather than being a bin of its own.
LAST_SCORE_BIN = 900


def _count_where(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def _assessed(merchant_id: str, period: Period) -> sa.Subquery:
    """The period's assessed intents with score and decision as plain columns (see
    reports.repository._charge_facts for why the JSON is extracted in a subquery)."""
    score = payment_intents.c.risk["score"].as_integer()
    return (
        sa.select(
            payment_intents.c.id,
            payment_intents.c.status,
            score.label("score"),
            payment_intents.c.risk["decision"].as_string().label("decision"),
        )
        .where(
            payment_intents.c.merchant_id == merchant_id,
            # Not ``risk IS NOT NULL``: a JSON column may hold a JSON null, not SQL NULL.
            score.is_not(None),
            *period.clauses(payment_intents.c.created),
        )
        .subquery("assessed")
    )


async def risk_decisions(
    session: Session, merchant_id: str, period: Period
) -> Sequence[sa.Row[Any]]:
    """(decision, n) of the period's assessed payment intents."""
    assessed = _assessed(merchant_id, period)
    query = (
        sa.select(assessed.c.decision, sa.func.count().label("n"))
        .group_by(assessed.c.decision)
        .order_by(assessed.c.decision)
    )
    return (await session.execute(query)).all()


async def score_bins(session: Session, merchant_id: str, period: Period) -> Sequence[sa.Row[Any]]:
    """(bin start, n): the period's risk scores counted per SCORE_BIN_WIDTH."""
    assessed = _assessed(merchant_id, period)
    # Integer division truncates on both databases; scores are never negative.
    raw_bin = assessed.c.score // SCORE_BIN_WIDTH * SCORE_BIN_WIDTH
    binned = sa.select(
        sa.case((raw_bin > LAST_SCORE_BIN, LAST_SCORE_BIN), else_=raw_bin).label("bin")
    ).subquery("binned")
    query = (
        sa.select(binned.c.bin, sa.func.count().label("n"))
        .group_by(binned.c.bin)
        .order_by(binned.c.bin)
    )
    return (await session.execute(query)).all()


async def reviews_by_status(
    session: Session, merchant_id: str, period: Period
) -> Sequence[sa.Row[Any]]:
    """(status, n) of the reviews opened in the period."""
    query = (
        sa.select(risk_reviews.c.status, sa.func.count().label("n"))
        .where(risk_reviews.c.merchant_id == merchant_id, *period.clauses(risk_reviews.c.created))
        .group_by(risk_reviews.c.status)
        .order_by(risk_reviews.c.status)
    )
    return (await session.execute(query)).all()


async def fraud_labels(session: Session, merchant_id: str, period: Period) -> sa.Row[Any]:
    """Of the payment intents created in the period: how many succeeded, how many are
    labelled fraud, and how many of those by a fraudulent dispute (a chargeback)."""
    label = risk_labels.c
    query = (
        sa.select(
            _count_where(payment_intents.c.status == IntentStatus.SUCCEEDED.value).label(
                "succeeded"
            ),
            _count_where(label.is_fraud.is_(True)).label("fraud"),
            _count_where(
                sa.and_(label.is_fraud.is_(True), label.source == LabelSource.DISPUTE.value)
            ).label("chargebacks"),
        )
        .select_from(
            payment_intents.outerjoin(risk_labels, label.payment_intent_id == payment_intents.c.id)
        )
        .where(
            payment_intents.c.merchant_id == merchant_id,
            *period.clauses(payment_intents.c.created),
        )
    )
    return (await session.execute(query)).one()


async def decisions_by_kind(
    session: Session, merchant_id: str, period: Period
) -> Sequence[sa.Row[Any]]:
    """Per decision kind and outcome: decisions, escalations, ground truth known and
    matched, mean latency and total voter cost."""
    d = decisions.c
    query = (
        sa.select(
            d.kind,
            d.outcome,
            sa.func.count().label("n"),
            _count_where(d.escalated.is_(True)).label("escalated"),
            _count_where(d.ground_truth.is_not(None)).label("labelled"),
            _count_where(d.ground_truth == d.outcome).label("correct"),
            sa.func.coalesce(sa.func.avg(d.latency_ms), 0.0).label("latency_ms"),
            sa.func.coalesce(sa.func.sum(d.cost_usd), 0.0).label("cost_usd"),
        )
        .where(d.merchant_id == merchant_id, *period.clauses(d.created))
        .group_by(d.kind, d.outcome)
        .order_by(d.kind, d.outcome)
    )
    return (await session.execute(query)).all()


async def votes_by_voter(
    session: Session, merchant_id: str, period: Period
) -> Sequence[sa.Row[Any]]:
    """Per voter: votes cast, abstentions, agreement with the decision's outcome and,
    where the truth is known, accuracy."""
    v, d = decision_votes.c, decisions.c
    voted = v.status == VoteStatus.VOTED.value
    query = (
        sa.select(
            v.voter,
            sa.func.count().label("n"),
            _count_where(voted).label("voted"),
            _count_where(sa.and_(voted, v.decision == d.outcome)).label("agreed"),
            _count_where(sa.and_(voted, d.ground_truth.is_not(None))).label("labelled"),
            _count_where(sa.and_(voted, v.decision == d.ground_truth)).label("correct"),
            sa.func.coalesce(sa.func.avg(v.latency_ms), 0.0).label("latency_ms"),
            sa.func.coalesce(sa.func.sum(v.cost_usd), 0.0).label("cost_usd"),
        )
        .select_from(decision_votes.join(decisions, d.id == v.decision_id))
        .where(d.merchant_id == merchant_id, *period.clauses(d.created))
        .group_by(v.voter)
        .order_by(v.voter)
    )
    return (await session.execute(query)).all()


async def unanimous_decisions(session: Session, merchant_id: str, period: Period) -> int:
    """Decisions whose every cast vote matched the outcome (at least one vote cast)."""
    v, d = decision_votes.c, decisions.c
    voted = v.status == VoteStatus.VOTED.value
    per_decision = (
        sa.select(d.id)
        .select_from(decisions.join(decision_votes, v.decision_id == d.id))
        .where(d.merchant_id == merchant_id, *period.clauses(d.created))
        .group_by(d.id)
        .having(
            sa.and_(
                _count_where(voted) > 0,
                _count_where(sa.and_(voted, v.decision != d.outcome)) == 0,
            )
        )
        .subquery()
    )
    query = sa.select(sa.func.count()).select_from(per_decision)
    return int((await session.execute(query)).scalar_one())
