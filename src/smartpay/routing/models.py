"""Routing tables: each merchant's configuration, and the statistics every worker shares
(per-processor, per-segment approval evidence and per-processor circuit breakers)."""

from __future__ import annotations

import sqlalchemy as sa

from smartpay.kit.db import metadata

# One row per merchant that saved a configuration through the API.
routing_configs = sa.Table(
    "routing_configs",
    metadata,
    sa.Column("merchant_id", sa.String(40), primary_key=True),
    sa.Column("document", sa.JSON, nullable=False),
    sa.Column("updated", sa.BigInteger, nullable=False),
)

# Discounted evidence per (processor, segment); segment "*" pools every segment. Counts
# are as of ``updated_at`` (unix seconds) and fade with the configured half-life.
routing_stats = sa.Table(
    "routing_stats",
    metadata,
    sa.Column("processor", sa.String(64), primary_key=True),
    sa.Column("segment", sa.String(120), primary_key=True),
    sa.Column("successes", sa.Float, nullable=False),
    sa.Column("failures", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Column("latency_samples", sa.Integer, nullable=False),
)

# One circuit breaker per processor (see routing.breaker for the states).
routing_breakers = sa.Table(
    "routing_breakers",
    metadata,
    sa.Column("processor", sa.String(64), primary_key=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("changed_at", sa.Float, nullable=False),
    sa.Column("window_start", sa.Float, nullable=False),
    sa.Column("calls", sa.Integer, nullable=False),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("previous_calls", sa.Integer, nullable=False),
    sa.Column("previous_failures", sa.Integer, nullable=False),
    sa.Column("probe_successes", sa.Integer, nullable=False),
)
