"""The payment chat's pages: ``/pay/{session}`` for a session a merchant opened, and
``/chat/demo`` (a session started with a publishable key typed into the page). Plain
HTML, CSS and JavaScript shipped in this package; no third-party code."""

from __future__ import annotations

import html
from functools import cache
from importlib import resources
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

router = APIRouter(include_in_schema=False)

_STATIC_TYPES = {"chat.js": "text/javascript", "chat.css": "text/css"}
_KEY_FORM = """<div class="chat__key">
    <label for="publishable-key">Publishable key</label>
    <input id="publishable-key" type="text" autocomplete="off" placeholder="pk_test_...">
    <button id="start" type="button">Start</button>
  </div>"""
# Scripts only from this origin, no framing by other sites, no inline script.
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; base-uri 'none'",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
}


@cache
def _asset(folder: Literal["static", "templates"], name: str) -> str:
    return resources.files("smartpay.web").joinpath(folder, name).read_text(encoding="utf-8")


def _page(title: str, session_id: str, mode: str, key_form: str) -> HTMLResponse:
    page = _asset("templates", "chat.html").format(
        title=html.escape(title),
        session_id=html.escape(session_id, quote=True),
        mode=mode,
        key_form=key_form,
    )
    return HTMLResponse(page, headers=_PAGE_HEADERS)


@router.get("/pay/{session_id}", response_class=HTMLResponse)
async def pay_page(session_id: str) -> HTMLResponse:
    return _page("Pay by chat", session_id, "pay", "")


@router.get("/chat/demo", response_class=HTMLResponse)
async def demo_page() -> HTMLResponse:
    return _page("Payment chat demo", "", "demo", _KEY_FORM)


@router.get("/static/chat/{name}")
async def static_asset(name: str) -> Response:
    media_type = _STATIC_TYPES.get(name)
    if media_type is None:
        return Response(status_code=404)
    return Response(_asset("static", name), media_type=media_type)
