"""Worker heartbeats: each worker process writes one row and refreshes it every round,
so /readyz on any API process knows whether background work is being done."""

from __future__ import annotations

import sqlalchemy as sa

from smartpay.kit.db import metadata

worker_heartbeats = sa.Table(
    "worker_heartbeats",
    metadata,
    sa.Column("worker_id", sa.String(200), primary_key=True),  # host:pid
    sa.Column("started_at", sa.BigInteger, nullable=False),
    sa.Column("beat_at", sa.BigInteger, nullable=False, index=True),
)
