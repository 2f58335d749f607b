"""Dashboard users (people who log in, each belonging to one merchant) and their login
sessions."""

from __future__ import annotations

import sqlalchemy as sa

from smartpay.kit.db import metadata

dashboard_users = sa.Table(
    "dashboard_users",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("merchant_id", sa.String(40), sa.ForeignKey("merchants.id"), nullable=False),
    sa.Column("email", sa.String(320), nullable=False, unique=True),
    # "scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>": the parameters travel with the hash, so
    # they can be raised later without invalidating existing passwords.
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False),
)

# The cookie holds a random token; only its SHA-256 is stored, so a copy of the database
# cannot be replayed as a login.
dashboard_sessions = sa.Table(
    "dashboard_sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.String(40), nullable=False, index=True),
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False),
)
