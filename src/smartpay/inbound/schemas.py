from __future__ import annotations

from typing import Any


def render_receipt(inbound_id: str, duplicate: bool) -> dict[str, Any]:
    """What ``POST /webhooks/{connector}`` answers: the processor only needs a 2xx."""
    return {"object": "inbound_event", "id": inbound_id, "received": True, "duplicate": duplicate}
