"""Cross-origin access to /chat and /session, per merchant (``SMARTPAY_CHAT_CORS_ORIGINS``).

A preflight (OPTIONS) carries no API key, so it is answered for any origin some merchant
allows; the real response then carries ``Access-Control-Allow-Origin`` only when its own
merchant allows that origin, and the browser enforces that."""

from __future__ import annotations

import json

from smartpay.config import Settings

ALL_MERCHANTS = "*"
PREFLIGHT_MAX_AGE_SECONDS = 600


class ChatCors:
    def __init__(self, settings: Settings) -> None:
        raw = json.loads(settings.chat_cors_origins) if settings.chat_cors_origins else {}
        if not isinstance(raw, dict) or not all(isinstance(v, list) for v in raw.values()):
            raise ValueError("SMARTPAY_CHAT_CORS_ORIGINS must be a JSON object of lists")
        self._origins = {str(k): frozenset(str(o).rstrip("/") for o in v) for k, v in raw.items()}
        self._any = frozenset().union(*self._origins.values()) if self._origins else frozenset()

    def allows(self, merchant_id: str | None, origin: str | None) -> bool:
        if not origin:
            return False
        if merchant_id is None:
            return origin in self._any
        return origin in self._origins.get(merchant_id, frozenset()) or origin in (
            self._origins.get(ALL_MERCHANTS, frozenset())
        )

    def headers(self, merchant_id: str | None, origin: str | None) -> dict[str, str]:
        if not self.allows(merchant_id, origin):
            return {"Vary": "Origin"}
        assert origin is not None
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}

    def preflight_headers(self, origin: str | None) -> dict[str, str]:
        headers = self.headers(None, origin)
        if "Access-Control-Allow-Origin" in headers:
            headers.update(
                {
                    "Access-Control-Allow-Methods": "GET, POST, DELETE, OPTIONS",
                    "Access-Control-Allow-Headers": "Authorization, Content-Type",
                    "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_SECONDS),
                }
            )
        return headers
