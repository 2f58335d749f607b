from __future__ import annotations

from enum import StrEnum

import sqlalchemy as sa

from smartpay.kit.db import metadata


class KeyKind(StrEnum):
    SECRET = "secret"  # sk_…: full API access for the merchant's server
    PUBLISHABLE = "publishable"  # pk_…: may only create payment methods (browser-side)


merchants = sa.Table(
    "merchants",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column(
        "merchant_id", sa.String(40), sa.ForeignKey("merchants.id"), nullable=False, index=True
    ),
    sa.Column("kind", sa.String(16), nullable=False),
    # SHA-256 of the key. Keys are 32 random base62 characters (~190 bits), so a fast
    # hash is enough: there is nothing to brute-force, unlike a password.
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("last4", sa.String(4), nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("revoked", sa.Boolean, nullable=False, default=False),
)
