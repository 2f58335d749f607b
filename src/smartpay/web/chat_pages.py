"""The payment chat's pages: ``/pay/{session}`` for a session a merchant opened, and
``/chat/demo`` (a session started with a publishable key typed into the page).

Rendered on the server with Jinja2, like the dashboard (autoescaped: a session id in the
URL cannot inject markup); the script and stylesheet are plain files shipped in this
package, no third-party code."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

router = APIRouter(include_in_schema=False)

_STATIC_TYPES = {"chat.js": "text/javascript", "chat.css": "text/css"}
# Scripts only from this origin, no framing by other sites, no inline script.
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; base-uri 'none'",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
}


@cache
def _templates() -> Environment:
    return Environment(
        loader=PackageLoader("smartpay.web", "templates"),
        autoescape=select_autoescape(["html"]),
    )


@cache
def _static(name: str) -> str:
    return resources.files("smartpay.web").joinpath("static", name).read_text(encoding="utf-8")


def _page(title: str, session_id: str, mode: Literal["pay", "demo"]) -> HTMLResponse:
    """``mode`` "demo" adds the publishable-key form: without a session id, the page
    starts one with the key the visitor types."""
    page = (
        _templates().get_template("chat.html").render(title=title, session_id=session_id, mode=mode)
    )
    return HTMLResponse(page, headers=_PAGE_HEADERS)


@router.get("/pay/{session_id}", response_class=HTMLResponse)
async def pay_page(session_id: str) -> HTMLResponse:
    return _page("Pay by chat", session_id, "pay")


@router.get("/chat/demo", response_class=HTMLResponse)
async def demo_page() -> HTMLResponse:
    return _page("Payment chat demo", "", "demo")


@router.get("/static/chat/{name}")
async def static_asset(name: str) -> Response:
    media_type = _STATIC_TYPES.get(name)
    if media_type is None:
        return Response(status_code=404)
    return Response(_static(name), media_type=media_type)
