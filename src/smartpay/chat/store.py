"""Where chat sessions live between messages, behind one interface.

- ``SqlChatStore``: the embedded default, a row per session in ``chat_sessions``.
- ``RedisChatStore``: for a fleet of API processes; native key expiry (``EX``).

Both keep what ``dialogue.ChatState`` holds (never a card number or CVC in clear) and
both tell an expired session from one that never existed, so the customer is told
"this session expired" rather than "not found".

Nothing typed in a session outlives its time-to-live, whether or not the customer comes
back: Redis drops the key itself; the SQL store empties the state of expired rows in the
worker's ``chat.tasks`` job (``purge_expired``), on a load after expiry, and on a save
that lands after expiry (a turn that began just before it).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import redis.asyncio as redis

from smartpay.chat import repository
from smartpay.config import Settings
from smartpay.errors import IdempotencyConflict, InvalidRequest
from smartpay.kit.clock import now
from smartpay.kit.db import Database

logger = logging.getLogger("smartpay.chat")

# How long after expiry a session is still recognised (and said to have expired) before
# it is deleted for good: a customer coming back the next day gets a clear answer.
EXPIRED_NOTICE_SECONDS = 86_400
DEFAULT_REDIS_PREFIX = "smartpay:chat:"


class ChatSessionExpired(InvalidRequest):
    """A session used after its time-to-live. 410."""

    http_status = 410
    default_code = "chat_session_expired"


class ChatSessionConflict(IdempotencyConflict):
    """Another message for the same session was saved first. 409, safe to resend."""

    default_code = "chat_session_busy"


@dataclass(slots=True)
class ChatSessionRecord:
    id: str
    merchant_id: str
    status: str
    current_field: str | None
    amount: int | None
    currency: str | None
    description: str | None
    state: dict[str, Any]
    version: int
    created: int
    updated: int
    expires_at: int

    def expired(self, at: int) -> bool:
        return at >= self.expires_at


def _expired_error(ttl_note: str = "") -> ChatSessionExpired:
    return ChatSessionExpired(
        "This chat session has expired, and the card details typed in it have been "
        f"deleted{ttl_note}. Please start a new session to pay."
    )


class ChatSessionStore(Protocol):
    async def create(self, record: ChatSessionRecord) -> None: ...

    async def load(self, session_id: str) -> ChatSessionRecord | None:
        """The session; None if it never existed. Raises ``ChatSessionExpired``."""
        ...

    async def save(self, record: ChatSessionRecord) -> None:
        """Store ``record`` if nobody saved since it was loaded (its ``version``), and
        bump its version; raises ``ChatSessionConflict`` otherwise."""
        ...

    async def purge_expired(self, at: int) -> int:
        """Empty the state (sealed card number, name, history) of every session expired
        at ``at`` and delete those past the notice period; how many were emptied."""
        ...

    async def close(self) -> None: ...


class SqlChatStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def create(self, record: ChatSessionRecord) -> None:
        async with self.database.transaction() as session:
            await repository.insert(session, **asdict(record))

    async def load(self, session_id: str) -> ChatSessionRecord | None:
        async with self.database.transaction() as session:
            row = await repository.get(session, session_id)
            if row is None:
                return None
            record = ChatSessionRecord(**row._asdict())
            at = now()
            if record.expired(at):
                if record.state:
                    # Nothing typed in an expired session outlives it.
                    await repository.update_if_version(
                        session,
                        record.id,
                        record.version,
                        state={},
                        version=record.version + 1,
                        updated=at,
                    )
                raise _expired_error()
            return record

    async def save(self, record: ChatSessionRecord) -> None:
        values = asdict(record)
        for key in ("id", "merchant_id", "created", "version"):
            values.pop(key)
        values["updated"] = now()
        if record.expired(values["updated"]):
            # The turn began before the session expired and ends after: its reply is
            # sent, but what was typed is not kept past the TTL (the purge job skips
            # rows saved after expiry, so this save must not leave card data behind).
            values["state"] = {}
        async with self.database.transaction() as session:
            if not await repository.update_if_version(
                session, record.id, record.version, version=record.version + 1, **values
            ):
                raise ChatSessionConflict(
                    "Another message for this chat session was handled at the same time. "
                    "Send yours again."
                )
        record.version += 1

    async def purge_expired(self, at: int) -> int:
        async with self.database.transaction() as session:
            deleted = await repository.delete_expired_before(session, at - EXPIRED_NOTICE_SECONDS)
            purged = await repository.purge_expired(session, at)
        if deleted:
            logger.info("chat: %d sessions past their notice period deleted", deleted)
        return purged

    async def close(self) -> None:
        return None


# Compare-and-set on the stored version, keeping the key's expiry (KEEPTTL, Redis 6+).
_SAVE_IF_VERSION = """
local current = redis.call('GET', KEYS[1])
if not current then return -1 end
if cjson.decode(current)['version'] ~= tonumber(ARGV[2]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'KEEPTTL')
return 1
"""


class RedisChatStore:
    """One JSON value per session with ``EX`` = its time-to-live, plus a small marker
    that outlives it by ``EXPIRED_NOTICE_SECONDS`` so expiry can be told apart."""

    def __init__(self, redis_url: str, *, prefix: str = DEFAULT_REDIS_PREFIX) -> None:
        self._client: redis.Redis = redis.Redis.from_url(redis_url)
        self._prefix = prefix
        self._save_script = self._client.register_script(_SAVE_IF_VERSION)

    def _key(self, session_id: str) -> str:
        return f"{self._prefix}session:{session_id}"

    def _marker(self, session_id: str) -> str:
        return f"{self._prefix}known:{session_id}"

    async def create(self, record: ChatSessionRecord) -> None:
        ttl = max(record.expires_at - now(), 1)
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.set(self._key(record.id), json.dumps(asdict(record)), ex=ttl)
            pipe.set(self._marker(record.id), b"1", ex=ttl + EXPIRED_NOTICE_SECONDS)
            await pipe.execute()

    async def load(self, session_id: str) -> ChatSessionRecord | None:
        raw = await self._client.get(self._key(session_id))
        if raw is None:
            if await self._client.exists(self._marker(session_id)):
                raise _expired_error()
            return None
        record = ChatSessionRecord(**json.loads(raw))
        if record.expired(now()):  # Redis expires keys to the second; be exact
            await self._client.delete(self._key(session_id))
            raise _expired_error()
        return record

    async def save(self, record: ChatSessionRecord) -> None:
        updated = ChatSessionRecord(
            **{**asdict(record), "version": record.version + 1, "updated": now()}
        )
        result = await self._save_script(
            keys=[self._key(record.id)], args=[json.dumps(asdict(updated)), record.version]
        )
        if result == -1:
            raise _expired_error()
        if result == 0:
            raise ChatSessionConflict(
                "Another message for this chat session was handled at the same time. "
                "Send yours again."
            )
        record.version += 1
        record.updated = updated.updated

    async def purge_expired(self, at: int) -> int:
        """Nothing to do: Redis deletes each session's key when its ``EX`` runs out."""
        return 0

    async def close(self) -> None:
        await self._client.aclose()


def build_chat_store(settings: Settings, database: Database) -> ChatSessionStore:
    """The store ``SMARTPAY_CHAT_STORE`` names (the API and the worker's purge job)."""
    if settings.chat_store == "redis":
        if not settings.redis_url:
            raise ValueError("SMARTPAY_CHAT_STORE=redis needs SMARTPAY_REDIS_URL")
        return RedisChatStore(settings.redis_url)
    return SqlChatStore(database)
