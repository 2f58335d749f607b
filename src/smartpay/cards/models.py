from __future__ import annotations

import sqlalchemy as sa

from smartpay.kit.db import metadata

# Payment methods hold only what may be shown: the card itself is in the vault
# (``vault_token``), the CVC nowhere in the database.
payment_methods = sa.Table(
    "payment_methods",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("merchant_id", sa.String(40), nullable=False, index=True),
    sa.Column("customer_id", sa.String(40), nullable=True, index=True),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("vault_token", sa.String(40), nullable=False),
    sa.Column("brand", sa.String(16), nullable=False),
    sa.Column("last4", sa.String(4), nullable=False),
    sa.Column("exp_month", sa.Integer, nullable=False),
    sa.Column("exp_year", sa.Integer, nullable=False),
    sa.Column("funding", sa.String(16), nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False, index=True),
    sa.Column("billing_details", sa.JSON, nullable=False),
    sa.Column("metadata", sa.JSON, nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),
)
