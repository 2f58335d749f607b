"""The vault's one table. It holds card numbers only as ciphertext, and never a CVC:
the CVC lives in the ``CvcStore`` until the first authorization, then nowhere."""

from __future__ import annotations

import sqlalchemy as sa

from smartpay.kit.db import metadata

# ``ciphertext`` is AES-256-GCM of JSON {number, exp_month, exp_year, name} under the
# record's own data key; ``wrapped_key`` is that data key wrapped under the keyring's
# ``key_version``. Rotation rewrites only ``wrapped_key`` and ``key_version``.
vault_cards = sa.Table(
    "vault_cards",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("merchant_id", sa.String(40), nullable=False, index=True),
    sa.Column("ciphertext", sa.LargeBinary, nullable=False),
    sa.Column("nonce", sa.LargeBinary, nullable=False),
    sa.Column("wrapped_key", sa.LargeBinary, nullable=False),
    # Indexed: rotation looks for the records not yet under the current version.
    sa.Column("key_version", sa.String(32), nullable=False, index=True),
    sa.Column("created", sa.BigInteger, nullable=False),
)
