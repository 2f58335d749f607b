"""Dashboard users and sessions: scrypt password hashes, random session tokens stored
only as hashes, and the figures the overview draws."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from smartpay.dashboard import repository
from smartpay.errors import InvalidRequest
from smartpay.kit.clock import now
from smartpay.kit.db import Session
from smartpay.kit.ids import new_id
from smartpay.merchants.service import get_merchant

# scrypt cost: n=2**15, r=8, p=1 is OWASP's current minimum recommendation for scrypt
# (Password Storage Cheat Sheet); about 50 ms and 32 MiB per login here.
SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32
MIN_PASSWORD_LENGTH = 12  # NIST SP 800-63B asks for at least 8; we ask a little more
SESSION_SECONDS = 8 * 3600  # a working day, then log in again
TOKEN_BYTES = 32


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _scrypt(salt: bytes, n: int, r: int, p: int) -> Scrypt:
    return Scrypt(salt=salt, length=HASH_BYTES, n=n, r=r, p=p)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(salt, SCRYPT_N, SCRYPT_R, SCRYPT_P).derive(password.encode())
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    kdf = _scrypt(base64.b64decode(salt), int(n), int(r), int(p))
    try:
        kdf.verify(password.encode(), base64.b64decode(digest))
    except InvalidKey:
        return False
    return True


# Verified against when the email is unknown, so a login takes as long either way and
# timing does not tell which emails have accounts.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_user(session: Session, merchant_id: str, email: str, password: str) -> str:
    await get_merchant(session, merchant_id)  # 404-style error for an unknown merchant
    email = email.strip().lower()
    if "@" not in email:
        raise InvalidRequest("An email address is needed, such as ops@example.com.", param="email")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidRequest(
            f"The password must have at least {MIN_PASSWORD_LENGTH} characters.",
            param="password",
        )
    if await repository.user_by_email(session, email) is not None:
        raise InvalidRequest(f"A dashboard user {email} exists already.", param="email")
    user_id = new_id("usr")
    await repository.insert_user(
        session,
        id=user_id,
        merchant_id=merchant_id,
        email=email,
        password_hash=hash_password(password),
        created=now(),
        disabled=False,
    )
    return user_id


@dataclass(frozen=True, slots=True)
class DashboardUser:
    id: str
    merchant_id: str
    email: str


async def log_in(session: Session, email: str, password: str) -> str | None:
    """A new session token for valid credentials, else None."""
    user = await repository.user_by_email(session, email.strip().lower())
    stored = user.password_hash if user is not None and not user.disabled else _DUMMY_HASH
    if not verify_password(password, stored) or user is None or user.disabled:
        return None
    token = secrets.token_urlsafe(TOKEN_BYTES)
    created = now()
    await repository.insert_session(
        session,
        token_hash=token_hash(token),
        user_id=user.id,
        created=created,
        expires_at=created + SESSION_SECONDS,
    )
    return token


async def current_user(session: Session, token: str | None) -> DashboardUser | None:
    if not token:
        return None
    row = await repository.user_by_session(session, token_hash(token), now())
    return None if row is None else DashboardUser(row.id, row.merchant_id, row.email)


async def log_out(session: Session, token: str) -> None:
    await repository.delete_session(session, token_hash(token))


async def overview(session: Session, merchant_id: str, days: int) -> dict[str, Any]:
    since = now() - days * repository.SECONDS_PER_DAY
    return {
        "volume": await repository.daily_volume(session, merchant_id, since),
        "processors": await repository.outcomes_by_processor(session, merchant_id, since),
    }
