"""The worker's chat job: what customers typed in sessions past their time-to-live (the
sealed card number, the name, the masked history) is emptied within a worker round of
expiry, not left until someone opens the session again. Idempotent: a purged row is
never picked again, so several workers may run it."""

from __future__ import annotations

from smartpay.chat.store import build_chat_store
from smartpay.platform import Platform


async def run_round(platform: Platform, *, now: int) -> dict[str, int]:
    store = build_chat_store(platform.settings, platform.database)
    try:
        purged = await store.purge_expired(now)
    finally:
        await store.close()
    return {"chat_sessions_purged": purged}
