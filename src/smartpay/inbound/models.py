from __future__ import annotations

from enum import StrEnum

import sqlalchemy as sa

from smartpay.kit.db import metadata


class InboundStatus(StrEnum):
    RECEIVED = "received"  # verified and stored; waiting for the worker
    PROCESSED = "processed"  # acted on, or found already applied by another path
    IGNORED = "ignored"  # stored as evidence, but of a kind SmartPay does not act on yet
    FAILED = "failed"  # the worker gave up after MAX_PROCESSING_ATTEMPTS; reason says why


# One row per provider event: the unique (connector, provider_event_id) makes a
# redelivery of the same event a no-op.
inbound_events = sa.Table(
    "inbound_events",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),  # iwh_…, time-sortable: receipt order
    sa.Column("connector", sa.String(64), nullable=False),  # the processor name in the URL
    sa.Column("provider_event_id", sa.String(255), nullable=False),
    sa.Column("type", sa.String(120), nullable=False),  # the processor's own type name
    sa.Column("kind", sa.String(20), nullable=False),  # connectors.base.ProviderEventKind
    sa.Column("processor_reference", sa.String(255), nullable=True),
    sa.Column("payload", sa.JSON, nullable=False),  # the verified body, as evidence
    sa.Column("status", sa.String(20), nullable=False),  # InboundStatus
    sa.Column("reason", sa.String(255), nullable=True),  # why ignored or failed, last error
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("received_at", sa.BigInteger, nullable=False),
    sa.Column("processed_at", sa.BigInteger, nullable=True),
    sa.UniqueConstraint("connector", "provider_event_id", name="uq_inbound_events_connector_event"),
    # The worker's pick-up query: events still received, in receipt order.
    sa.Index("ix_inbound_events_status_id", "status", "id"),
)
