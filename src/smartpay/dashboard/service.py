"""Dashboard users and sessions: scrypt password hashes, random session tokens stored
only as hashes, and the figures the overview draws."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from smartpay.config import Settings
from smartpay.dashboard import repository
from smartpay.decisions import service as decisions_service
from smartpay.errors import InvalidRequest, ResourceMissing
from smartpay.events import service as events_service
from smartpay.events.schemas import EventList, render_event
from smartpay.kit.clock import now
from smartpay.kit.db import Session
from smartpay.kit.ids import new_id
from smartpay.kit.pagination import ListParams
from smartpay.merchants.service import get_merchant
from smartpay.payments.service import get_intent
from smartpay.reports import fraud
from smartpay.reports import service as report_sections
from smartpay.reports.repository import Period
from smartpay.risk import repository as risk_repository
from smartpay.risk.models import ReviewStatus
from smartpay.risk.reviews import render_review

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


async def overview(
    session: Session, merchant_id: str, days: int, settings: Settings
) -> dict[str, Any]:
    """The overview's figures; costs and risk scores come from the reports' sections
    (the cost monitor and the risk engine's data), so the pictures match the reports."""
    since = now() - days * repository.SECONDS_PER_DAY
    period = Period(start=since)
    return {
        "volume": await repository.daily_volume(session, merchant_id, since),
        "processors": await repository.outcomes_by_processor(session, merchant_id, since),
        "costs": await report_sections.cost_section(session, merchant_id, period, settings),
        "fraud": await fraud.fraud(session, merchant_id, period, settings),
    }


# ----------------------------------------------------------------- risk and AI decisions
#
# Read through the risk, decisions and events domains' own services and repositories,
# so the dashboard shows exactly what /v1/reviews, /v1/decisions and /v1/events return.

CONSENSUS_REASON_PREFIX = "consensus:"  # risk.payment_path's marker in risk.reasons.rules


def consensus_decision_id(risk: Mapping[str, Any] | None) -> str | None:
    """The id of the consensus decision a payment's risk object points to, if any."""
    rules = ((risk or {}).get("reasons") or {}).get("rules") or []
    for rule in rules:
        if isinstance(rule, str) and rule.startswith(CONSENSUS_REASON_PREFIX):
            return rule.removeprefix(CONSENSUS_REASON_PREFIX)
    return None


async def consensus_of(
    session: Session, merchant_id: str, risk: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """The consensus decision with its votes, as ``GET /v1/decisions/{id}`` renders it;
    None when the payment never went to the consensus (or it is not this merchant's)."""
    decision_id = consensus_decision_id(risk)
    if decision_id is None:
        return None
    try:
        return await decisions_service.load(session, merchant_id, decision_id)
    except ResourceMissing:
        return None


@dataclass(frozen=True, slots=True)
class QueuedReview:
    review: dict[str, Any]  # as /v1/reviews renders it
    intent: Any  # the held PaymentIntent's row
    decision: dict[str, Any] | None  # the consensus decision, when there was one


async def open_reviews(session: Session, merchant_id: str, limit: int) -> list[QueuedReview]:
    """The merchant's open reviews, newest first, each with its payment and decision."""
    page = await risk_repository.page_reviews(
        session, merchant_id, ListParams(limit=limit), ReviewStatus.OPEN.value
    )
    queue = []
    for row in page.rows:
        intent = await get_intent(session, merchant_id, row.payment_intent_id)
        decision = await consensus_of(session, merchant_id, intent.risk)
        queue.append(QueuedReview(render_review(row), intent, decision))
    return queue


async def review_outcome(
    session: Session, merchant_id: str, review_id: str
) -> tuple[dict[str, Any], Any] | None:
    """A review of this merchant and its payment as they are now (after an action)."""
    row = await risk_repository.get_review(session, merchant_id, review_id)
    if row is None:
        return None
    return render_review(row), await get_intent(session, merchant_id, row.payment_intent_id)


async def decisions_overview(
    session: Session, merchant_id: str, recent: int
) -> tuple[list[decisions_service.VoterStats], list[dict[str, Any]]]:
    """Per-voter agreement and accuracy, and the latest decisions with their votes."""
    stats = await decisions_service.voter_stats(session, merchant_id)
    page = await decisions_service.list_page(session, merchant_id, ListParams(limit=recent))
    return stats, await decisions_service.render_page(session, page)


async def recent_events(session: Session, merchant_id: str, limit: int) -> list[dict[str, Any]]:
    """The merchant's latest events, newest first, as ``GET /v1/events`` renders them."""
    page = await events_service.list_(session, merchant_id, EventList(limit=limit))
    return [render_event(row) for row in page.rows]
