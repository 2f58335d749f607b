"""Decision tables: one row per decision, one per vote, one per action run, and each
merchant's policy (strategy and weights)."""

from __future__ import annotations

from enum import StrEnum

import sqlalchemy as sa

from smartpay.kit.db import metadata


class VoteStatus(StrEnum):
    VOTED = "voted"  # a decision from the kind's label set
    ABSTAINED = "abstained"  # the voter had nothing to say (no data it needs)
    INVALID = "invalid"  # output that does not match the vote schema: an abstention
    TIMEOUT = "timeout"  # no answer within the voter's deadline: an abstention
    FAILED = "failed"  # the voter failed (provider down, rate limited): an abstention


class DecisionMode(StrEnum):
    DECIDING = "deciding"  # the outcome acts
    ADVISORY = "advisory"  # recorded for comparison; another decision acted


class ActionStatus(StrEnum):
    DONE = "done"  # the action ran (or was handed to the caller, for continue/cancel)
    SKIPPED = "skipped"  # nothing to do for this subject (e.g. no payment to review)


decisions = sa.Table(
    "decisions",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("merchant_id", sa.String(40), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("subject_id", sa.String(64), nullable=False),
    # Re-running the same request finds this decision instead of voting again.
    sa.Column("request_key", sa.String(255), nullable=False),
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("strategy", sa.String(32), nullable=False),
    sa.Column("risk", sa.Float, nullable=True),
    sa.Column("explanation", sa.String(500), nullable=False),
    sa.Column("escalated", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("amount", sa.BigInteger, nullable=True),
    sa.Column("currency", sa.String(3), nullable=True),
    # Masked data only (decisions.context.snapshot): never a card number or a CVC.
    sa.Column("context", sa.JSON, nullable=False),
    sa.Column("valid_votes", sa.Integer, nullable=False),
    sa.Column("abstentions", sa.Integer, nullable=False),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Column("cost_usd", sa.Float, nullable=False),
    # What really happened, learnt later (a chargeback, a review's verdict): a label.
    sa.Column("ground_truth", sa.String(16), nullable=True),
    sa.Column("ground_truth_source", sa.String(64), nullable=True),
    sa.Column("ground_truth_at", sa.BigInteger, nullable=True),
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("merchant_id", "request_key", name="uq_decisions_request"),
    sa.Index("ix_decisions_merchant_kind", "merchant_id", "kind", "id"),
    sa.Index("ix_decisions_merchant_subject", "merchant_id", "subject_id"),
)

decision_votes = sa.Table(
    "decision_votes",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("decision_id", sa.String(40), nullable=False, index=True),
    sa.Column("merchant_id", sa.String(40), nullable=False),
    sa.Column("voter", sa.String(64), nullable=False),
    sa.Column("model", sa.String(128), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("decision", sa.String(16), nullable=True),
    sa.Column("confidence", sa.Float, nullable=True),
    sa.Column("risk", sa.Float, nullable=True),
    sa.Column("veto", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("weight", sa.Float, nullable=False),
    sa.Column("rationale", sa.String(500), nullable=False),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Column("cost_usd", sa.Float, nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Index("ix_decision_votes_merchant_voter", "merchant_id", "voter"),
)

decision_actions = sa.Table(
    "decision_actions",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("decision_id", sa.String(40), nullable=False, index=True),
    sa.Column("merchant_id", sa.String(40), nullable=False),
    sa.Column("subject_id", sa.String(64), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("result", sa.JSON, nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),
    # An action runs once per subject, however often a decision on it is re-run.
    sa.UniqueConstraint("merchant_id", "subject_id", "action", name="uq_decision_actions_once"),
)

decision_policies = sa.Table(
    "decision_policies",
    metadata,
    sa.Column("merchant_id", sa.String(40), primary_key=True),
    sa.Column("strategy", sa.String(32), nullable=True),
    sa.Column("weights", sa.JSON, nullable=False),
    # "configured" (set through the API) or "learnt" (from ground truth).
    sa.Column("weights_source", sa.String(16), nullable=False),
    sa.Column("updated", sa.BigInteger, nullable=False),
)
