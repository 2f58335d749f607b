from __future__ import annotations

import sqlalchemy as sa

from smartpay.kit.db import metadata

# The outbox: every state change writes its event here in the same transaction as the
# change itself. Delivery (webhooks, streams) reads from this table after commit.
events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("merchant_id", sa.String(40), nullable=False, index=True),
    sa.Column("type", sa.String(80), nullable=False),
    sa.Column("object_id", sa.String(40), nullable=False, index=True),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("previous_attributes", sa.JSON, nullable=True),
    sa.Column("request_id", sa.String(64), nullable=True),
    sa.Column("idempotency_key", sa.String(255), nullable=True),
    sa.Column("created", sa.BigInteger, nullable=False),
)
