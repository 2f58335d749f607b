"""The sandbox processor's 3-D Secure test page: a customer-facing page with two buttons
that complete or fail the challenge, then send the customer to the intent's return_url."""

from __future__ import annotations

import html
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from smartpay.payments.endpoints import Flows

router = APIRouter(prefix="/sandbox/3ds", tags=["sandbox"], include_in_schema=False)

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>3-D Secure test challenge</title>
<style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;color:#1a1f36}}
button{{font-size:1rem;padding:.6rem 1.2rem;margin-right:.5rem;border-radius:6px;border:0;
cursor:pointer}}
.ok{{background:#635bff;color:#fff}}.fail{{background:#e3e8ee}}</style></head>
<body><h1>3-D Secure test payment</h1>
<p>This is the SmartPay sandbox's test authentication page for challenge
<code>{reference}</code>. Choose how the customer's bank answers.</p>
<form method="post" action="/sandbox/3ds/{reference}/complete">
<button class="ok" name="result" value="succeed">Complete authentication</button>
<button class="fail" name="result" value="fail">Fail authentication</button>
</form></body></html>"""


@router.get("/{reference}", response_class=HTMLResponse)
async def challenge_page(reference: str) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(reference=html.escape(reference, quote=True)))


async def _result(request: Request) -> str:
    form = await request.form()
    value = form.get("result") or request.query_params.get("result") or "succeed"
    return str(value)


@router.post("/{reference}/complete")
async def complete_challenge(
    reference: str, flows: Flows, result: Annotated[str, Depends(_result)]
) -> Response:
    outcome: Literal["succeed", "fail"] = "fail" if result == "fail" else "succeed"
    intent = await flows.complete_challenge(reference, outcome == "succeed")
    if intent.return_url:
        separator = "&" if "?" in intent.return_url else "?"
        return RedirectResponse(
            f"{intent.return_url}{separator}payment_intent={intent.id}", status_code=303
        )
    return HTMLResponse(
        f"<!doctype html><p>Authentication {html.escape(outcome)}ed. PaymentIntent "
        f"<code>{html.escape(intent.id)}</code> is now <b>{html.escape(intent.status)}</b>.</p>"
    )
