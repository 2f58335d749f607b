"""The chat's one table, for the embedded (SQL) sessions store.

``state`` is the dialogue's JSON (``dialogue.ChatState``): the name, brand, last four
digits, expiry, the card number sealed by the vault's encryption (ciphertext only) and
the masked history. Never a card number or a CVC in clear; the CVC is not here at all.
"""

from __future__ import annotations

import sqlalchemy as sa

from smartpay.kit.db import metadata

chat_sessions = sa.Table(
    "chat_sessions",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("merchant_id", sa.String(40), nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("current_field", sa.String(16), nullable=True),
    sa.Column("amount", sa.BigInteger, nullable=True),
    sa.Column("currency", sa.String(8), nullable=True),
    sa.Column("description", sa.String(1000), nullable=True),
    sa.Column("state", sa.JSON, nullable=False),
    # Bumped by every save: a save based on an older read is refused (two tabs, retries).
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("updated", sa.BigInteger, nullable=False),
    # Indexed: the purge of long-expired sessions looks rows up by it.
    sa.Column("expires_at", sa.BigInteger, nullable=False, index=True),
)
