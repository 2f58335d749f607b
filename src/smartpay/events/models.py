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
    # Set by the webhook worker in the same transaction that writes the event's delivery
    # rows, so a crash at any point leaves the event to be fanned out again. A server
    # default (not a Python one) keeps the writers' INSERTs unchanged.
    sa.Column("webhooks_fanned_out", sa.Boolean, nullable=False, server_default=sa.false()),
    # Only the events still to fan out are indexed: the index stays small.
    sa.Index(
        "ix_events_webhooks_pending",
        "id",
        postgresql_where=sa.text("NOT webhooks_fanned_out"),
        sqlite_where=sa.text("NOT webhooks_fanned_out"),
    ),
    # The live stream polls "this merchant's events after this id, in id order": one range
    # scan on this index.
    sa.Index("ix_events_merchant_id_id", "merchant_id", "id"),
)
