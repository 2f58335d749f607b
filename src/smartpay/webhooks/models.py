"""Webhook endpoints, their signing secrets, and the delivery log.

One delivery row per (event, endpoint); every HTTP attempt of it is one attempt row.
Secrets are stored only sealed with the vault's envelope encryption (``vault.crypto``).
"""

from __future__ import annotations

from enum import StrEnum

import sqlalchemy as sa

from smartpay.kit.db import BigIntPK, metadata


class EndpointStatus(StrEnum):
    ENABLED = "enabled"  # receives the events it subscribes to
    DISABLED = "disabled"  # receives nothing: turned off by the merchant, or failing for days


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for its next attempt (the first one, or a retry)
    DELIVERED = "delivered"  # the endpoint answered 2xx once; never sent again unless retried
    FAILED = "failed"  # dead-lettered: retry window over, or endpoint disabled or deleted


# Which delivery status may follow which. ``failed``/``delivered`` -> ``pending`` is a
# merchant's explicit retry (POST /v1/events/{id}/retry or `smartpay events resend`).
DELIVERY_TRANSITIONS: dict[DeliveryStatus, frozenset[DeliveryStatus]] = {
    DeliveryStatus.PENDING: frozenset(
        {DeliveryStatus.PENDING, DeliveryStatus.DELIVERED, DeliveryStatus.FAILED}
    ),
    DeliveryStatus.DELIVERED: frozenset({DeliveryStatus.PENDING}),
    DeliveryStatus.FAILED: frozenset({DeliveryStatus.PENDING}),
}


webhook_endpoints = sa.Table(
    "webhook_endpoints",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("merchant_id", sa.String(40), nullable=False, index=True),
    sa.Column("url", sa.String(2048), nullable=False),
    sa.Column("description", sa.String(5000), nullable=True),
    sa.Column("enabled_events", sa.JSON, nullable=False),
    sa.Column("metadata", sa.JSON, nullable=False),
    sa.Column("api_version", sa.String(32), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    # Start of the current run of failed attempts (unix seconds); cleared by a success.
    # An endpoint failing for ``webhook_disable_after_hours`` is disabled.
    sa.Column("failing_since", sa.BigInteger, nullable=True),
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("deleted", sa.Boolean, nullable=False),
)

# A signing secret, sealed (AES-256-GCM under its own data key, wrapped by the keyring).
# The newest secret of an endpoint signs; older ones keep signing until ``expires_at``
# (rotation overlap). ``expires_at`` NULL: the current secret.
webhook_secrets = sa.Table(
    "webhook_secrets",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("endpoint_id", sa.String(40), nullable=False, index=True),
    sa.Column("ciphertext", sa.LargeBinary, nullable=False),
    sa.Column("nonce", sa.LargeBinary, nullable=False),
    sa.Column("wrapped_key", sa.LargeBinary, nullable=False),
    sa.Column("key_version", sa.String(32), nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=True),
)

webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("event_id", sa.String(40), nullable=False),
    sa.Column("endpoint_id", sa.String(40), nullable=False, index=True),
    sa.Column("merchant_id", sa.String(40), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    # When the next attempt is due (unix seconds). A worker that claims a delivery pushes
    # this forward by a lease, so a worker that dies mid-send leaves it due again later.
    sa.Column("next_attempt_at", sa.BigInteger, nullable=False),
    # After this time a failed attempt dead-letters the delivery instead of retrying.
    sa.Column("give_up_at", sa.BigInteger, nullable=False),
    sa.Column("last_error", sa.String(1000), nullable=True),
    sa.Column("last_status_code", sa.Integer, nullable=True),
    sa.Column("delivered_at", sa.BigInteger, nullable=True),
    sa.Column("created", sa.BigInteger, nullable=False),
    # Fan-out inserts each (event, endpoint) pair at most once, however often it runs.
    sa.UniqueConstraint("event_id", "endpoint_id", name="uq_webhook_deliveries_event_endpoint"),
    # The claim query: due pending deliveries, oldest due first.
    sa.Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
)

webhook_delivery_attempts = sa.Table(
    "webhook_delivery_attempts",
    metadata,
    sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
    sa.Column("delivery_id", sa.String(40), nullable=False, index=True),
    sa.Column("attempted_at", sa.BigInteger, nullable=False),
    sa.Column("status_code", sa.Integer, nullable=True),
    sa.Column("latency_ms", sa.Integer, nullable=False),
    sa.Column("response_body", sa.String(500), nullable=True),
    sa.Column("error", sa.String(1000), nullable=True),
)
