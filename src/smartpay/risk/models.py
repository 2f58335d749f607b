"""The risk engine's tables: live feature state, merchant rules and lists, reviews, labels.

Live feature state is kept as incrementally updated aggregates, never recomputed from
payments: one row per (entity, currency) holding its windowed counters as JSON
(`live.EntityState`), and per-merchant daily counters for the delayed fraud-share
features, split into shards so that concurrent payments of one merchant rarely wait on
the same row, plus each merchant's first-seen time, written once.
"""

from __future__ import annotations

from enum import StrEnum

import sqlalchemy as sa

from smartpay.kit.db import metadata


class ReviewStatus(StrEnum):
    OPEN = "open"  # waiting for a reviewer; a held payment cannot be captured
    APPROVED = "approved"  # a reviewer let the payment proceed
    REJECTED = "rejected"  # a reviewer stopped it: canceled or refunded


class ListKind(StrEnum):
    CARD_FINGERPRINT = "card_fingerprint"  # the card's fingerprint (payment_method.card)
    EMAIL = "email"  # receipt or billing e-mail, compared lower case
    IP_ADDRESS = "ip_address"  # the shopper's IP (metadata[ip_address])
    BIN = "bin"  # a card-number prefix, 6 to 8 digits


class ListAction(StrEnum):
    ALLOW = "allow"  # skip every rule and the score threshold: always allow
    BLOCK = "block"  # always block


class LabelSource(StrEnum):
    FEEDBACK = "fraud_feedback"  # POST /v1/payment_intents/{id}/fraud_feedback
    REVIEW = "review"  # a reviewer's decision
    DISPUTE = "dispute"  # a fraudulent dispute (chargeback)


# Windowed counters of one entity (a card, customer, e-mail, IP, device) in one currency.
risk_feature_state = sa.Table(
    "risk_feature_state",
    metadata,
    # "<kind>:<sha256 of the value, truncated>:<currency>"; raw e-mails and IPs stay out.
    sa.Column("key", sa.String(96), primary_key=True),
    sa.Column("state", sa.JSON, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

# A merchant's transactions and known frauds per UTC day (the handbook's terminal).
risk_terminal_days = sa.Table(
    "risk_terminal_days",
    metadata,
    sa.Column("merchant_id", sa.String(40), primary_key=True),
    sa.Column("day", sa.Integer, primary_key=True),  # days since the Unix epoch
    sa.Column("shard", sa.Integer, primary_key=True),
    sa.Column("transactions", sa.BigInteger, nullable=False),
    sa.Column("frauds", sa.BigInteger, nullable=False),
)

# When a merchant's first payment was scored, written once: its age (the handbook's
# terminal age) keeps growing after its oldest day counter falls out of the read range.
risk_terminal_first_seen = sa.Table(
    "risk_terminal_first_seen",
    metadata,
    sa.Column("merchant_id", sa.String(40), primary_key=True),
    sa.Column("first_seen", sa.Float, nullable=False),  # Unix seconds
)

risk_rules = sa.Table(
    "risk_rules",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("merchant_id", sa.String(40), nullable=False, index=True),
    # Rules run in ascending position; ties (never written by the API) by id.
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("description", sa.String(500), nullable=True),
    sa.Column("conditions", sa.JSON, nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created", sa.BigInteger, nullable=False),
)

risk_list_entries = sa.Table(
    "risk_list_entries",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("merchant_id", sa.String(40), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("value", sa.String(320), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("description", sa.String(500), nullable=True),
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("merchant_id", "kind", "value", name="uq_risk_list_entries_value"),
)

risk_reviews = sa.Table(
    "risk_reviews",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("merchant_id", sa.String(40), nullable=False, index=True),
    sa.Column("payment_intent_id", sa.String(40), nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("source", sa.String(32), nullable=False),  # rules, model, consensus, ...
    sa.Column("reasons", sa.JSON, nullable=False),
    # Whether approving captures the payment (it was confirmed for automatic capture).
    sa.Column("capture_on_approve", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("closed_reason", sa.String(32), nullable=True),
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("closed_at", sa.BigInteger, nullable=True),
)

# What is known about a payment's fraud, latest word wins; features count each fraud once.
risk_labels = sa.Table(
    "risk_labels",
    metadata,
    sa.Column("payment_intent_id", sa.String(40), primary_key=True),
    sa.Column("merchant_id", sa.String(40), nullable=False, index=True),
    sa.Column("is_fraud", sa.Boolean, nullable=False),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),
)
