from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from smartpay.cards.validation import ValidatedCard, validate_card
from smartpay.errors import ResourceMissing
from smartpay.kit.db import Database
from smartpay.vault.crypto import VaultIntegrityError, associated_data, open_, seal
from smartpay.vault.keys import LocalKeyring, WrappedKey
from smartpay.vault.models import vault_cards
from smartpay.vault.service import Vault

MERCHANT = "acct_one"
OTHER_MERCHANT = "acct_two"
VISA = "4242424242424242"
AMEX = "378282246310005"


def card(number: str = VISA, cvc: str | None = "737") -> ValidatedCard:
    return validate_card(number, 12, 2030, cvc, today=date(2025, 1, 1))


@pytest.fixture
def keyring(tmp_path: Path) -> LocalKeyring:
    return LocalKeyring(tmp_path / "keyring.json")


@pytest.fixture
def vault(keyring: LocalKeyring) -> Vault:
    return Vault(keyring)


async def rows(database: Database) -> list[sa.Row[Any]]:
    async with database.transaction() as session:
        return list((await session.execute(sa.select(vault_cards).order_by("id"))).all())


async def store(
    database: Database, vault: Vault, *, number: str = VISA, cvc: str | None = "737"
) -> str:
    async with database.transaction() as session:
        return await vault.store_card(session, MERCHANT, card(number, cvc), "Jenny Rosen")


def test_seal_and_open_bind_associated_data(keyring: LocalKeyring) -> None:
    aad = associated_data("test", "vtok_1", MERCHANT)
    record = seal(keyring, b"secret", aad)
    assert b"secret" not in record.ciphertext
    assert open_(keyring, record, aad) == b"secret"
    with pytest.raises(VaultIntegrityError):
        open_(keyring, record, associated_data("test", "vtok_2", MERCHANT))
    with pytest.raises(VaultIntegrityError):
        open_(keyring, record, associated_data("test", "vtok_1", OTHER_MERCHANT))
    with pytest.raises(ValueError):
        associated_data("test", "a\0b")
    # Each record has its own data key.
    assert seal(keyring, b"secret", aad).wrapped_key != record.wrapped_key


async def test_store_and_load(database: Database, vault: Vault) -> None:
    token = await store(database, vault)
    assert token.startswith("vtok_")
    async with database.transaction() as session:
        loaded = await vault.load_card(session, MERCHANT, token)
    assert loaded.number == VISA
    assert (loaded.exp_month, loaded.exp_year) == (12, 2030)
    assert loaded.holder_name == "Jenny Rosen"
    assert loaded.cvc is None


async def test_the_database_holds_no_plaintext_and_no_cvc(database: Database, vault: Vault) -> None:
    assert not any("cvc" in name or "cvv" in name for name in (c.name for c in vault_cards.columns))
    # The CVC is never stored here: it goes to the CvcStore.
    await store(database, vault, number=AMEX, cvc="7373")
    (row,) = await rows(database)
    for value in row:
        raw = value if isinstance(value, bytes) else str(value).encode()
        assert AMEX.encode() not in raw
        assert b"Jenny" not in raw
        assert b"7373" not in raw
    assert row.key_version == "v1"
    assert row.merchant_id == MERCHANT


async def test_another_merchant_cannot_load_the_card(database: Database, vault: Vault) -> None:
    token = await store(database, vault)
    async with database.transaction() as session:
        with pytest.raises(ResourceMissing):
            await vault.load_card(session, OTHER_MERCHANT, token)
        with pytest.raises(ResourceMissing):
            await vault.load_card(session, MERCHANT, "vtok_missing")


async def test_tampered_ciphertext_fails(database: Database, vault: Vault) -> None:
    token = await store(database, vault)
    (row,) = await rows(database)
    tampered = bytearray(row.ciphertext)
    tampered[0] ^= 1
    async with database.transaction() as session:
        await session.execute(
            sa.update(vault_cards)
            .where(vault_cards.c.id == token)
            .values(ciphertext=bytes(tampered))
        )
    async with database.transaction() as session:
        with pytest.raises(VaultIntegrityError):
            await vault.load_card(session, MERCHANT, token)


async def test_ciphertext_swapped_between_rows_fails(database: Database, vault: Vault) -> None:
    first = await store(database, vault)
    second = await store(database, vault, number="5555555555554444")
    by_id = {row.id: row for row in await rows(database)}
    copied = {
        column: getattr(by_id[first], column)
        for column in ("ciphertext", "nonce", "wrapped_key", "key_version")
    }
    async with database.transaction() as session:
        await session.execute(
            sa.update(vault_cards).where(vault_cards.c.id == second).values(**copied)
        )
    async with database.transaction() as session:
        assert (await vault.load_card(session, MERCHANT, first)).number == VISA
        with pytest.raises(VaultIntegrityError):
            await vault.load_card(session, MERCHANT, second)


async def test_row_moved_to_another_merchant_fails(database: Database, vault: Vault) -> None:
    token = await store(database, vault)
    async with database.transaction() as session:
        await session.execute(
            sa.update(vault_cards)
            .where(vault_cards.c.id == token)
            .values(merchant_id=OTHER_MERCHANT)
        )
    async with database.transaction() as session:
        with pytest.raises(VaultIntegrityError):
            await vault.load_card(session, OTHER_MERCHANT, token)


def test_fingerprint(vault: Vault, tmp_path: Path) -> None:
    fingerprint = vault.fingerprint(MERCHANT, VISA)
    assert len(fingerprint) == 16
    assert fingerprint == vault.fingerprint(MERCHANT, VISA)
    assert fingerprint != vault.fingerprint(OTHER_MERCHANT, VISA)
    assert fingerprint != vault.fingerprint(MERCHANT, "5555555555554444")
    unkeyed = hashlib.sha256(VISA.encode()).hexdigest()
    assert fingerprint not in unkeyed
    assert fingerprint not in hashlib.sha256(f"{MERCHANT}\0{VISA}".encode()).hexdigest()
    # Keyed: another installation (another keyring) gets another fingerprint.
    assert fingerprint != Vault(LocalKeyring(tmp_path / "other.json")).fingerprint(MERCHANT, VISA)


async def test_rotate_rewraps_without_reencrypting(
    database: Database, vault: Vault, keyring: LocalKeyring
) -> None:
    tokens = [await store(database, vault, number=n, cvc=None) for n in (VISA, AMEX)]
    before = {row.id: row for row in await rows(database)}

    assert await vault.rotate_keys(database) == 2
    assert keyring.current_version == "v2"
    after = {row.id: row for row in await rows(database)}
    for token in tokens:
        assert after[token].key_version == "v2"
        assert after[token].wrapped_key != before[token].wrapped_key
        assert after[token].ciphertext == before[token].ciphertext
        assert after[token].nonce == before[token].nonce

    new_token = await store(database, vault, number="6011111111111117")
    async with database.transaction() as session:
        numbers = [(await vault.load_card(session, MERCHANT, t)).number for t in tokens]
        assert numbers == [VISA, AMEX]
        assert (await vault.load_card(session, MERCHANT, new_token)).number == "6011111111111117"
    assert {row.key_version for row in await rows(database)} == {"v2"}

    # A second rotation again covers every record, old and new.
    assert await vault.rotate_keys(database, batch_size=2) == 3
    assert {row.key_version for row in await rows(database)} == {"v3"}


async def test_interrupted_rotation_is_readable_and_resumable(
    database: Database, keyring: LocalKeyring, tmp_path: Path
) -> None:
    vault = Vault(keyring)
    tokens = [await store(database, vault) for _ in range(5)]

    class FailingAfter:
        """The keyring, failing like a crash after a number of re-wraps."""

        def __init__(self, allowed: int) -> None:
            self.allowed = allowed

        def __getattr__(self, name: str) -> object:
            return getattr(keyring, name)

        @property
        def current_version(self) -> str:
            return keyring.current_version

        def rewrap(self, wrapped: bytes, key_version: str) -> WrappedKey:
            if self.allowed == 0:
                raise RuntimeError("crash")
            self.allowed -= 1
            return keyring.rewrap(wrapped, key_version)

    with pytest.raises(RuntimeError, match="crash"):
        await Vault(FailingAfter(3)).rotate_keys(database, batch_size=2)  # type: ignore[arg-type]
    # The first batch (2 records) committed; the failed batch rolled back.
    assert sorted(row.key_version for row in await rows(database)) == ["v1", "v1", "v1", "v2", "v2"]
    async with database.transaction() as session:
        for token in tokens:
            assert (await vault.load_card(session, MERCHANT, token)).number == VISA

    # Resuming finishes the job under the same version, without adding another.
    assert await vault.rewrap_to_current(database) == 3
    assert keyring.versions == ["v1", "v2"]
    assert {row.key_version for row in await rows(database)} == {"v2"}
    # A reopened keyring (another process) reads every record.
    reopened = Vault(LocalKeyring(keyring.path))
    async with database.transaction() as session:
        for token in tokens:
            assert (await reopened.load_card(session, MERCHANT, token)).number == VISA
    assert await vault.rewrap_to_current(database) == 0
