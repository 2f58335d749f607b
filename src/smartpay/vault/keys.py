"""Key management for the vault, shaped like AWS KMS so a KMS provider drops in later.

Envelope encryption: every record gets its own random data key (DEK); the DEK is stored
only wrapped (encrypted) under a key-encryption key (KEK) that never leaves the provider.
``KeyProvider`` mirrors the KMS calls the vault needs:

- ``generate_data_key()``  ≈ KMS GenerateDataKey (AES_256): plaintext + wrapped DEK
- ``unwrap()``             ≈ KMS Decrypt
- ``rewrap()``             ≈ KMS ReEncrypt: a wrapped DEK moved under the current KEK
- ``mac()``                ≈ KMS GenerateMac (HMAC_SHA_256): card fingerprints
- ``add_version()``        ≈ creating a new KMS key (or pointing the alias at one)

``LocalKeyring`` keeps the KEKs in a JSON file readable only by its owner (0600), for a
laptop or a single server. Each KEK has a version; records remember the version their
DEK is wrapped under, so older versions stay readable after a rotation.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import stat
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from smartpay.errors import InternalError

# AES-256: 32-byte keys for both KEKs and DEKs (what KMS GenerateDataKey AES_256 returns).
KEY_BYTES = 32
# 96-bit nonces are the size GCM is specified for (NIST SP 800-38D); random per wrap.
NONCE_BYTES = 12
# Bump when the keyring file's layout changes.
KEYRING_FORMAT = 1
# Owner read/write only: the file holds every KEK.
KEYRING_FILE_MODE = 0o600
# Owner only: nobody else may list, add or swap files next to the keyring.
KEYRING_DIR_MODE = 0o700


class KeyringError(InternalError):
    """The keyring is missing a key version, unreadable, or a wrapped key is corrupt."""

    default_code = "vault_key_error"


@dataclass(frozen=True, slots=True)
class DataKey:
    """A fresh data key: use ``plaintext`` once, store only ``wrapped`` and ``key_version``."""

    plaintext: bytes = field(repr=False)
    wrapped: bytes
    key_version: str


@dataclass(frozen=True, slots=True)
class WrappedKey:
    wrapped: bytes
    key_version: str


class KeyProvider(Protocol):
    """Where KEKs live. Implementations: ``LocalKeyring`` (file), later AWS KMS."""

    @property
    def current_version(self) -> str:
        """The version new data keys are wrapped under."""
        ...

    def generate_data_key(self) -> DataKey:
        """A random 32-byte data key, plaintext and wrapped under the current version."""
        ...

    def unwrap(self, wrapped: bytes, key_version: str) -> bytes:
        """The plaintext data key. Raises ``KeyringError`` if it was tampered with."""
        ...

    def rewrap(self, wrapped: bytes, key_version: str) -> WrappedKey:
        """The same data key wrapped under the current version."""
        ...

    def add_version(self) -> str:
        """Create a new KEK version and make it current; returns the new version."""
        ...

    def mac(self, message: bytes) -> bytes:
        """HMAC-SHA256 of ``message`` under a key kept apart from the KEKs."""
        ...


@dataclass(slots=True)
class _KeyringState:
    current: str
    keks: dict[str, bytes]
    fingerprint_key: bytes
    # (inode, mtime_ns, size) of the file this state was read from: another process
    # (``smartpay vault rotate``) may add a version while this one runs.
    signature: tuple[int, int, int]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def _version_name(number: int) -> str:
    return f"v{number}"


class LocalKeyring:
    """KEKs in a 0600 JSON file, created with fresh random keys on first use.

    File layout::

        {"format": 1, "current": "v2",
         "versions": {"v1": "<base64 KEK>", "v2": "<base64 KEK>"},
         "fingerprint_key": "<base64>"}

    Wrapping is AES-256-GCM of the data key under the version's KEK, with a random
    12-byte nonce and the version name as associated data; ``wrapped`` = nonce + ciphertext.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._state: _KeyringState | None = None
        self._lock = threading.Lock()

    # -- KeyProvider -------------------------------------------------------------------

    @property
    def current_version(self) -> str:
        return self._load().current

    @property
    def fingerprint_key(self) -> bytes:
        return self._load().fingerprint_key

    @property
    def versions(self) -> list[str]:
        return list(self._load().keks)

    def generate_data_key(self) -> DataKey:
        state = self._load()
        plaintext = secrets.token_bytes(KEY_BYTES)
        wrapped = self._wrap(state, plaintext, state.current)
        return DataKey(plaintext=plaintext, wrapped=wrapped, key_version=state.current)

    def unwrap(self, wrapped: bytes, key_version: str) -> bytes:
        kek = self._kek(key_version)
        nonce, ciphertext = wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:]
        try:
            plaintext = AESGCM(kek).decrypt(nonce, ciphertext, key_version.encode())
        except (InvalidTag, ValueError) as exc:
            raise KeyringError("A wrapped data key failed its integrity check.") from exc
        if len(plaintext) != KEY_BYTES:
            raise KeyringError("A wrapped data key has the wrong length.")
        return plaintext

    def rewrap(self, wrapped: bytes, key_version: str) -> WrappedKey:
        plaintext = self.unwrap(wrapped, key_version)
        state = self._load()
        return WrappedKey(self._wrap(state, plaintext, state.current), state.current)

    def add_version(self) -> str:
        with self._lock:
            state = self._load_locked(force=True)
            number = 1 + max(int(name[1:]) for name in state.keks)
            version = _version_name(number)
            keks = {**state.keks, version: secrets.token_bytes(KEY_BYTES)}
            self._write_replace(
                self._document(version, keks, state.fingerprint_key),
            )
            self._state = None
            self._load_locked()
            return version

    def mac(self, message: bytes) -> bytes:
        return hmac.new(self.fingerprint_key, message, hashlib.sha256).digest()

    # -- internals ---------------------------------------------------------------------

    @staticmethod
    def _wrap(state: _KeyringState, plaintext: bytes, version: str) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + AESGCM(state.keks[version]).encrypt(nonce, plaintext, version.encode())

    def _kek(self, key_version: str) -> bytes:
        kek = self._load().keks.get(key_version)
        if kek is None:
            # Maybe another process added the version since we last read the file.
            with self._lock:
                kek = self._load_locked(force=True).keks.get(key_version)
        if kek is None:
            raise KeyringError(f"The keyring has no key version '{key_version}'.")
        return kek

    def _load(self) -> _KeyringState:
        with self._lock:
            return self._load_locked()

    def _load_locked(self, *, force: bool = False) -> _KeyringState:
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            self._create()
            info = os.stat(self.path)
        signature = (info.st_ino, info.st_mtime_ns, info.st_size)
        if not force and self._state is not None and self._state.signature == signature:
            return self._state
        if stat.S_IMODE(info.st_mode) & 0o077:
            raise KeyringError(
                f"The keyring {self.path} is readable by other users; "
                f"restrict it with chmod 600 before starting SmartPay."
            )
        with open(self.path, "rb") as file:
            # Re-stat the open file: the signature must describe exactly what we read.
            info = os.fstat(file.fileno())
            document = json.loads(file.read())
        self._state = self._parse(document, (info.st_ino, info.st_mtime_ns, info.st_size))
        return self._state

    def _parse(self, document: Any, signature: tuple[int, int, int]) -> _KeyringState:
        try:
            if document["format"] != KEYRING_FORMAT:
                raise KeyringError(f"Unsupported keyring format in {self.path}.")
            keks = {name: _unb64(value) for name, value in document["versions"].items()}
            state = _KeyringState(
                current=document["current"],
                keks=keks,
                fingerprint_key=_unb64(document["fingerprint_key"]),
                signature=signature,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise KeyringError(f"The keyring {self.path} is malformed.") from exc
        if state.current not in keks or any(len(k) != KEY_BYTES for k in keks.values()):
            raise KeyringError(f"The keyring {self.path} is malformed.")
        return state

    @staticmethod
    def _document(current: str, keks: dict[str, bytes], fingerprint_key: bytes) -> bytes:
        return json.dumps(
            {
                "format": KEYRING_FORMAT,
                "current": current,
                "versions": {name: _b64(kek) for name, kek in keks.items()},
                "fingerprint_key": _b64(fingerprint_key),
            },
            indent=2,
        ).encode()

    def _ensure_dir(self) -> None:
        parent = self.path.parent
        if not parent.exists():
            # Only a directory we create is restricted: never chmod someone else's.
            parent.mkdir(mode=KEYRING_DIR_MODE, parents=True, exist_ok=True)
            os.chmod(parent, KEYRING_DIR_MODE)

    def _write_temp(self, content: bytes) -> Path:
        """Write ``content`` to a new 0600 file beside the keyring, flushed to disk."""
        temp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(8)}.tmp")
        # O_EXCL + mode at creation: the file is 0600 from its first instant.
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, KEYRING_FILE_MODE)
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(content)
                file.flush()
                os.fsync(file.fileno())
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            raise
        return temp

    def _create(self) -> None:
        """Create the keyring with version v1, unless another process just did."""
        self._ensure_dir()
        content = self._document(
            _version_name(1),
            {_version_name(1): secrets.token_bytes(KEY_BYTES)},
            secrets.token_bytes(KEY_BYTES),
        )
        temp = self._write_temp(content)
        try:
            # link() fails if the keyring exists: two processes starting at once agree on
            # one file, and nobody ever reads a half-written keyring.
            with contextlib.suppress(FileExistsError):
                os.link(temp, self.path)
        finally:
            os.unlink(temp)
        self._fsync_dir()

    def _write_replace(self, content: bytes) -> None:
        temp = self._write_temp(content)
        try:
            os.replace(temp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            raise
        self._fsync_dir()

    def _fsync_dir(self) -> None:
        # Make the new directory entry durable: losing a KEK after records were wrapped
        # under it would lose those cards.
        fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
