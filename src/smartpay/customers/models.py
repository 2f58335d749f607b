from __future__ import annotations

import sqlalchemy as sa

from smartpay.kit.db import metadata

customers = sa.Table(
    "customers",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("merchant_id", sa.String(40), nullable=False, index=True),
    sa.Column("email", sa.String(512), nullable=True),
    sa.Column("name", sa.String(256), nullable=True),
    sa.Column("phone", sa.String(64), nullable=True),
    sa.Column("description", sa.String(500), nullable=True),
    sa.Column("metadata", sa.JSON, nullable=False, default=dict),
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("deleted", sa.Boolean, nullable=False, default=False),
)
