"""Envelope encryption of vault records.

Each record is encrypted with AES-256-GCM under its own fresh data key; the data key is
stored only wrapped by the ``KeyProvider``. Associated data binds a ciphertext to the
row it belongs to (vault token id and merchant id), so copying a ciphertext into another
row, or another merchant's row, makes it fail to decrypt instead of leaking a card.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from smartpay.errors import InternalError
from smartpay.vault.keys import NONCE_BYTES, KeyProvider

# Separates the parts of associated data; ids never contain it, so the encoding is
# unambiguous ("a", "bc" and "ab", "c" give different bytes).
_AAD_SEPARATOR = "\0"


class VaultIntegrityError(InternalError):
    """A sealed record failed authentication: tampered with, moved, or the wrong key."""

    default_code = "vault_integrity_error"


@dataclass(frozen=True, slots=True)
class SealedRecord:
    ciphertext: bytes
    nonce: bytes
    wrapped_key: bytes
    key_version: str


def associated_data(purpose: str, *parts: str) -> bytes:
    """Associated data naming what a ciphertext is for and which row it belongs to."""
    for part in (purpose, *parts):
        if _AAD_SEPARATOR in part:
            raise ValueError("associated data parts may not contain NUL")
    return _AAD_SEPARATOR.join((purpose, *parts)).encode()


def seal(provider: KeyProvider, plaintext: bytes, aad: bytes) -> SealedRecord:
    """Encrypt ``plaintext`` under a fresh data key; only the wrapped key is kept."""
    data_key = provider.generate_data_key()
    nonce = secrets.token_bytes(NONCE_BYTES)
    ciphertext = AESGCM(data_key.plaintext).encrypt(nonce, plaintext, aad)
    return SealedRecord(
        ciphertext=ciphertext,
        nonce=nonce,
        wrapped_key=data_key.wrapped,
        key_version=data_key.key_version,
    )


def open_(provider: KeyProvider, record: SealedRecord, aad: bytes) -> bytes:
    """Decrypt a sealed record. Raises ``VaultIntegrityError`` if it does not authenticate."""
    data_key = provider.unwrap(record.wrapped_key, record.key_version)
    try:
        return AESGCM(data_key).decrypt(record.nonce, record.ciphertext, aad)
    except (InvalidTag, ValueError) as exc:
        raise VaultIntegrityError("A vault record failed its integrity check.") from exc
