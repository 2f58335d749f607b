"""The vault: stores validated cards encrypted, hands them back for a processor call,
fingerprints them, and rotates the keys they are wrapped under.

A card number is in plaintext only inside these methods and in the ``CardData`` handed
to a processor call; the CVC never comes here (see ``vault.cvc``).
"""

from __future__ import annotations

import json

from smartpay.cards.validation import ValidatedCard
from smartpay.connectors.base import CardData
from smartpay.errors import InvalidRequest, ResourceMissing
from smartpay.kit.clock import now
from smartpay.kit.db import Database, Session
from smartpay.kit.ids import new_id
from smartpay.vault import repository
from smartpay.vault.crypto import SealedRecord, associated_data, open_, seal
from smartpay.vault.keys import KeyProvider

VAULT_ID_PREFIX = "vtok"
# Bank account records (us_bank_account payment methods) share the table and the keys;
# their own prefix and purpose keep a card lookup from ever opening one.
BANK_VAULT_ID_PREFIX = "vbnk"
# Purpose label in the associated data of card records (see ``crypto.associated_data``).
CARD_AAD_PURPOSE = "smartpay.vault.card.v1"
BANK_ACCOUNT_AAD_PURPOSE = "smartpay.vault.bank_account.v1"
# 16 hex characters (64 bits) as long as Stripe's fingerprints; a merchant would need
# about 4 billion distinct cards before two are likely to share one by chance.
FINGERPRINT_HEX_CHARS = 16
# Records re-wrapped per transaction during rotation: small enough to keep each commit
# short on a busy database, large enough that a million cards take seconds of round trips.
ROTATION_BATCH_SIZE = 500


def _card_aad(token: str, merchant_id: str) -> bytes:
    return associated_data(CARD_AAD_PURPOSE, token, merchant_id)


class Vault:
    def __init__(self, provider: KeyProvider) -> None:
        self.provider = provider

    async def store_card(
        self,
        session: Session,
        merchant_id: str,
        card: ValidatedCard,
        holder_name: str | None,
    ) -> str:
        """Encrypt the card (never its CVC) and return its vault token id."""
        token = new_id(VAULT_ID_PREFIX)
        payload = json.dumps(
            {
                "number": card.number,
                "exp_month": card.exp_month,
                "exp_year": card.exp_year,
                "name": holder_name,
            }
        ).encode()
        sealed = seal(self.provider, payload, _card_aad(token, merchant_id))
        await repository.insert(
            session, token=token, merchant_id=merchant_id, sealed=sealed, created=now()
        )
        return token

    async def store_bank_account(
        self, session: Session, merchant_id: str, routing_number: str, account_number: str
    ) -> str:
        """Encrypt a bank account number (with its routing number); returns the token."""
        token = new_id(BANK_VAULT_ID_PREFIX)
        payload = json.dumps({"routing_number": routing_number, "account_number": account_number})
        aad = associated_data(BANK_ACCOUNT_AAD_PURPOSE, token, merchant_id)
        sealed = seal(self.provider, payload.encode(), aad)
        await repository.insert(
            session, token=token, merchant_id=merchant_id, sealed=sealed, created=now()
        )
        return token

    async def load_bank_account(self, session: Session, merchant_id: str, token: str) -> str:
        """The account number behind a bank account token of this merchant."""
        row = await repository.get(session, merchant_id, token)
        if row is None or not token.startswith(BANK_VAULT_ID_PREFIX + "_"):
            raise ResourceMissing(f"No such bank account in the vault: '{token}'")
        record = SealedRecord(
            ciphertext=row.ciphertext,
            nonce=row.nonce,
            wrapped_key=row.wrapped_key,
            key_version=row.key_version,
        )
        aad = associated_data(BANK_ACCOUNT_AAD_PURPOSE, token, merchant_id)
        account_number: str = json.loads(open_(self.provider, record, aad))["account_number"]
        return account_number

    def bank_fingerprint(self, merchant_id: str, routing_number: str, account_number: str) -> str:
        """Same account, same merchant: same value (keyed, as card fingerprints)."""
        message = f"{merchant_id}\0ach\0{routing_number}\0{account_number}".encode()
        return self.provider.mac(message).hex()[:FINGERPRINT_HEX_CHARS]

    async def load_card(self, session: Session, merchant_id: str, token: str) -> CardData:
        """The card behind a token of this merchant, decrypted, without a CVC."""
        if token.startswith(BANK_VAULT_ID_PREFIX + "_"):
            raise InvalidRequest(
                "This PaymentMethod is a us_bank_account: collect from it with "
                "POST /v1/ach_debits (card payments need a card).",
                param="payment_method",
                code="payment_method_invalid_parameter",
            )
        row = await repository.get(session, merchant_id, token)
        if row is None:
            raise ResourceMissing(f"No such card in the vault: '{token}'")
        record = SealedRecord(
            ciphertext=row.ciphertext,
            nonce=row.nonce,
            wrapped_key=row.wrapped_key,
            key_version=row.key_version,
        )
        payload = json.loads(open_(self.provider, record, _card_aad(token, merchant_id)))
        return CardData(
            number=payload["number"],
            exp_month=payload["exp_month"],
            exp_year=payload["exp_year"],
            cvc=None,
            holder_name=payload["name"],
        )

    def fingerprint(self, merchant_id: str, number: str) -> str:
        """Same card, same merchant: same value. Keyed, so it cannot be brute-forced
        from the few billion possible numbers of a BIN, and scoped per merchant, so two
        merchants cannot tell they share a customer."""
        message = f"{merchant_id}\0{number}".encode()
        return self.provider.mac(message).hex()[:FINGERPRINT_HEX_CHARS]

    async def rotate_keys(
        self, database: Database, *, batch_size: int = ROTATION_BATCH_SIZE
    ) -> int:
        """Add a new key version, then re-wrap every record's data key under it.

        The payloads are not re-encrypted: only the wrapped data keys change. Returns
        how many records were re-wrapped.
        """
        self.provider.add_version()
        return await self.rewrap_to_current(database, batch_size=batch_size)

    async def rewrap_to_current(
        self, database: Database, *, batch_size: int = ROTATION_BATCH_SIZE
    ) -> int:
        """Re-wrap every record not yet under the current key version.

        Commits one batch at a time. Each record keeps the version it is wrapped under,
        so an interrupted run leaves every card readable; running this again finishes
        the job without adding another version.
        """
        version = self.provider.current_version
        count = 0
        after_id = ""
        while True:
            async with database.transaction() as session:
                rows = await repository.batch_not_under_version(
                    session, version, after_id, batch_size
                )
                for row in rows:
                    rewrapped = self.provider.rewrap(row.wrapped_key, row.key_version)
                    if await repository.update_wrapped_key(
                        session,
                        row.id,
                        old_version=row.key_version,
                        wrapped_key=rewrapped.wrapped,
                        key_version=rewrapped.key_version,
                    ):
                        count += 1
            if len(rows) < batch_size:
                return count
            after_id = rows[-1].id
